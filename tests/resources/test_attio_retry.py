"""The retry policy's pure parts: Retry-After parsing and the bounds of the loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from revops_pipelines.infra.retry import RetrySettings, retry_after_seconds, retrying
from revops_pipelines.resources.attio.errors import AttioError

NOW = datetime(2023, 5, 23, 14, 42, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "server_date", "expected"),
    [
        ("Tue, 23 May 2023 14:42:01 GMT", None, 0.75),  # Attio's documented example
        ("Tue, 23 May 2023 14:41:59 GMT", None, 0.0),  # already past: no negative wait
        ("3", None, 3.0),
        ("0.5", None, 0.5),
        (" 2 ", None, 2.0),
        ("", None, None),
        (None, None, None),
        ("soon", None, None),
        # Our clock 10 minutes behind the server's: the server's Date is the reference.
        ("Tue, 23 May 2023 14:52:02 GMT", "Tue, 23 May 2023 14:52:00 GMT", 2.0),
        # Within tolerance: our own clock is used.
        ("Tue, 23 May 2023 14:42:02 GMT", "Tue, 23 May 2023 14:42:01 GMT", 1.75),
    ],
)
def test_retry_after_seconds(
    header: str | None, server_date: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(header, now=NOW, server_date=server_date) == expected


def _transient(retry_after: float | None = None) -> AttioError:
    return AttioError(
        method="PUT",
        path="objects/companies/records",
        status_code=503 if retry_after is None else 429,
        type="server_error",
        code="unavailable",
        message="down",
        retryable=True,
        retry_after_seconds=retry_after,
    )


async def _count_attempts(settings: RetrySettings, error: AttioError) -> tuple[int, float]:
    loop = retrying(settings)
    attempts = 0
    with pytest.raises(AttioError):
        async for attempt in loop:
            with attempt:
                attempts += 1
                raise error
    return attempts, loop.statistics["idle_for"]


def test_attempts_are_bounded() -> None:
    settings = RetrySettings(
        max_attempts=4, max_total_wait_seconds=60, initial_backoff_seconds=0.001
    )
    attempts, _ = asyncio.run(_count_attempts(settings, _transient()))
    assert attempts == 4


def test_total_wait_is_capped_before_sleeping_past_it() -> None:
    # Each Retry-After asks for 0.3 s; a 0.5 s cap allows one wait, not two.
    settings = RetrySettings(max_attempts=10, max_total_wait_seconds=0.5)
    attempts, idle = asyncio.run(_count_attempts(settings, _transient(retry_after=0.3)))
    assert attempts == 2
    assert 0.3 <= idle <= 0.5


def test_permanent_errors_are_not_retried() -> None:
    error = AttioError(
        method="POST",
        path="objects/companies/records",
        status_code=400,
        type="invalid_request_error",
        code="uniqueness_conflict",
        message="conflict",
    )
    attempts, idle = asyncio.run(_count_attempts(RetrySettings(), error))
    assert (attempts, idle) == (1, 0)


def test_error_text_carries_validation_paths_and_retry_totals() -> None:
    error = AttioError(
        method="PUT",
        path="objects/companies/records",
        status_code=400,
        type="invalid_request_error",
        code="validation_type",
        message="Body payload validation error.",
        validation_errors=[
            {"code": "invalid_type", "path": ["data", "values"], "message": "Required"}
        ],
    )
    error.attempts, error.waited_seconds = 3, 1.25
    text = str(error)
    assert "400 validation_type: Body payload validation error." in text
    assert "data.values: Required" in text
    assert "gave up after 3 attempts, 1.2 s waited" in text
