"""HubSpot workflow-webhook contacts read as leads: the newest submission wins, the dedupe key is
the contact and its conversion id, and a contact that cannot be a lead is refused with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from revops_pipelines.domain.hubspot_forms import hubspot_event_id
from revops_pipelines.domain.submissions import SubmissionParseError, parse_submission
from tests.webhooks.helpers import FIXTURES

VECTOR_BODY = json.loads((FIXTURES / "hubspot_signature_vectors.json").read_text("utf-8"))["body"]
RECEIVED = datetime(2026, 12, 3, tzinfo=UTC)


def _parse(payload: dict) -> object:  # type: ignore[type-arg]
    return parse_submission(
        "hubspot", json.dumps(payload).encode(), raw_ref="r", event_id="e", received_at=RECEIVED
    )


def test_the_vector_contact_becomes_one_submission() -> None:
    payload = json.loads(VECTOR_BODY)
    submission = _parse(payload)
    assert submission.source == "hubspot"  # type: ignore[attr-defined]
    assert submission.email == "zoe.odegard@fjord.example"  # type: ignore[attr-defined]
    assert submission.name == "Zoë Ødegård"  # type: ignore[attr-defined]
    assert submission.company == "Fjord Café AS"  # type: ignore[attr-defined]
    assert submission.source_form == "b844ad5e-8a5c-4c7e-a9f7-6c1e2d3f4a5b (Kontakt — Demo)"  # type: ignore[attr-defined]
    assert submission.submitted_at == datetime.fromtimestamp(1764750000, tz=UTC)  # type: ignore[attr-defined]
    assert hubspot_event_id(payload) == "3234574:b18f9fd8-0e3a-4b3c-9d5e-2f1a4c5b6d7e"


def test_the_newest_submission_is_the_one_read_whatever_the_order() -> None:
    payload = json.loads(VECTOR_BODY)
    old = {
        **payload["form-submissions"][0],
        "conversion-id": "old",
        "timestamp": 1,
        "form-id": "f-old",
    }
    payload["form-submissions"] = [payload["form-submissions"][0], old]
    assert _parse(payload).source_form.startswith("b844ad5e")  # type: ignore[attr-defined]
    assert hubspot_event_id(payload).endswith(":b18f9fd8-0e3a-4b3c-9d5e-2f1a4c5b6d7e")  # type: ignore[union-attr]


def test_the_email_falls_back_to_the_identity_profile() -> None:
    payload = json.loads(VECTOR_BODY)
    del payload["properties"]["email"]
    payload["identity-profiles"] = [
        {"identities": [{"type": "EMAIL", "value": "id@fjord.example"}]}
    ]
    assert _parse(payload).email == "id@fjord.example"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.pop("form-submissions"), "no form-submissions entry"),
        (lambda p: p["properties"].pop("email"), "the contact has no email"),
        (lambda p: p.pop("properties"), "properties is missing"),
        (lambda p: p["form-submissions"][0].pop("form-id"), "has no form-id"),
    ],
)
def test_a_contact_that_cannot_be_a_lead_is_refused_with_the_reason(change, reason) -> None:  # type: ignore[no-untyped-def]
    payload = json.loads(VECTOR_BODY)
    change(payload)
    with pytest.raises(SubmissionParseError, match=reason):
        _parse(payload)


def test_without_a_conversion_id_there_is_no_event_id() -> None:
    payload = json.loads(VECTOR_BODY)
    del payload["form-submissions"][0]["conversion-id"]
    assert hubspot_event_id(payload) is None
