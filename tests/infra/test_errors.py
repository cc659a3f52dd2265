"""One error base: every client's failure is an `ApiError`, and what the retry policy,
send-once and the breakers read is its flags, whoever raised it."""

from __future__ import annotations

import pytest

from revops_pipelines.infra.breaker import CircuitOpenError, counts_toward_opening
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.retry import is_retryable
from revops_pipelines.infra.send_once import is_ambiguous
from revops_pipelines.resources.attio import AttioError
from revops_pipelines.resources.enrichment import EnrichmentError
from revops_pipelines.resources.outreach import OutreachError
from revops_pipelines.resources.salesforce import (
    SalesforceApiError,
    SalesforceAuthenticationError,
    SalesforceRequestLimitExceeded,
)
from revops_pipelines.resources.slack import SlackError

ERRORS = [
    AttioError(
        method="POST", path="notes", status_code=None, type="transport_error", code="timeout",
        message="ReadTimeout", retryable=False, ambiguous=True,
    ),
    OutreachError("GET", "prospects", 503, [], retryable=True),
    SlackError("chat.postMessage", "ratelimited", status_code=429, retryable=True, retry_after_seconds=2),
    SalesforceApiError(503, "SERVER_UNAVAILABLE", "down", [], True, True),
    SalesforceRequestLimitExceeded("spent", None),
    SalesforceAuthenticationError("INVALID_LOGIN"),
    EnrichmentError("HTTP 404", retryable=False, outage=False, status_code=404),
    CircuitOpenError("Slack", 3, [], 1.0, probing=False),
]  # fmt: skip


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_client_error_is_an_api_error_read_by_its_flags(error: ApiError) -> None:
    assert isinstance(error, ApiError)
    assert is_retryable(error) is error.retryable
    assert is_ambiguous(error) is error.ambiguous
    assert counts_toward_opening(error) is error.outage


def test_the_flags_decide_not_the_kind_of_error() -> None:
    class Unwell(ApiError):
        outage, retryable = True, True

    assert counts_toward_opening(Unwell()) and is_retryable(Unwell())
    assert not counts_toward_opening(ApiError()) and not is_retryable(ApiError())
    assert not is_ambiguous(ApiError()) and not is_ambiguous(ValueError("a bug"))
    assert not is_retryable(TimeoutError())  # only a client's own error says it is safe


def test_an_api_error_quoting_a_lead_masks_it_wherever_dagster_prints_it() -> None:
    import sys

    from dagster._utils.error import serializable_error_info_from_exc_info

    from revops_pipelines.infra.errors import ApiError

    try:
        raise ApiError(
            "400 validation_type: invalid value 'maria.lopez@northwind.io' (+44 20 7946 0958)"
        )
    except ApiError:
        info = serializable_error_info_from_exc_info(sys.exc_info())
    text = info.to_string()
    assert "maria.lopez" not in text and "7946" not in text
    assert "m•••@northwind.io" in text
