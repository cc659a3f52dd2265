"""Typeform, Tally and generic form payloads parsed into one `Submission` shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from revops_pipelines.domain.submissions import (
    Submission,
    SubmissionParseError,
    parse_submission,
    parse_timestamp,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _parse(source: str, payload: bytes | dict[str, Any]) -> Submission:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_submission(
        source, body, raw_ref="webhook_inbox:7", event_id="evt-7", received_at=RECEIVED
    )


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def test_typeform_documented_example() -> None:
    s = _parse("typeform", (FIXTURES / "typeform_example.json").read_bytes())
    assert s.source == "typeform"
    assert s.email == "laura@example.com"
    assert s.name == "Laura"
    assert s.company is None
    assert s.message is not None and s.message.startswith("It's cold right now!")
    assert s.source_form == "lT4Z3j (Webhooks example)"
    assert s.submitted_at == datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)
    assert (s.raw_ref, s.event_id) == ("webhook_inbox:7", "evt-7")
    assert s.answers["user_id"] == "abc123456"  # hidden fields are kept
    assert ["London", "Sydney"] in s.answers.values()


def test_tally_documented_example() -> None:
    s = _parse("tally", (FIXTURES / "tally_example.json").read_bytes())
    assert (s.email, s.name, s.company, s.message) == ("john@company.com", "John Doe", None, None)
    assert s.source_form == "mZA0Av (Lead Generation Form)"
    assert s.submitted_at == datetime(2025, 7, 4, 13, 39, 37, tzinfo=UTC)
    assert s.answers["Plan"] == ["Business"]  # option ids resolved to their text
    assert s.answers["Budget"] == 25000


def test_tally_company_message_and_split_names() -> None:
    payload = _fixture("tally_example.json")
    payload["data"]["fields"] = [
        {"label": "First name", "type": "INPUT_TEXT", "value": " Ada "},
        {"label": "Last name", "type": "INPUT_TEXT", "value": "Lovelace"},
        {"label": "Work email", "type": "INPUT_EMAIL", "value": "ada@analytical.example"},
        {"label": "Company name", "type": "INPUT_TEXT", "value": "Analytical Engines"},
        {"label": "How can we help?", "type": "TEXTAREA", "value": "Pricing for 50 seats"},
    ]
    s = _parse("tally", payload)
    assert (s.email, s.name, s.company, s.message) == (
        "ada@analytical.example",
        "Ada Lovelace",
        "Analytical Engines",
        "Pricing for 50 seats",
    )


def test_typeform_uses_refs_and_hidden_fields() -> None:
    payload = {
        "event_id": "e",
        "event_type": "form_response",
        "form_response": {
            "form_id": "F1",
            "submitted_at": "2026-01-02T03:04:05Z",
            "hidden": {"company": "Acme"},
            "answers": [
                {"type": "email", "email": "bo@acme.example", "field": {"id": "a", "ref": "email"}},
                {"type": "text", "text": "Bo Diddley", "field": {"id": "b", "ref": "full_name"}},
                {"type": "text", "text": "Call me", "field": {"id": "c", "ref": "message"}},
            ],
        },
    }
    s = _parse("typeform", payload)
    assert (s.email, s.name, s.company, s.message) == (
        "bo@acme.example",
        "Bo Diddley",
        "Acme",
        "Call me",
    )
    assert s.source_form == "F1"


def test_generic_flat_form() -> None:
    s = _parse(
        "generic",
        {
            "email": "x@y.example",
            "first_name": "X",
            "last_name": "Y",
            "company": "Y Inc",
            "form": "site",
        },
    )
    assert (s.source, s.source_form, s.name, s.company) == ("generic", "site", "X Y", "Y Inc")
    assert s.submitted_at == RECEIVED  # no timestamp in the payload: when it was received


@pytest.mark.parametrize(
    ("source", "body", "reason"),
    [
        ("typeform", b"not json", "body is not valid JSON"),
        ("typeform", b"[]", "body is a JSON list, expected an object"),
        ("typeform", b'{"event_type": "form_response_partial"}', "unsupported event_type"),
        ("typeform", b'{"event_type": "form_response"}', "form_response is missing"),
        (
            "typeform",
            b'{"event_type": "form_response", "form_response": {"answers": {}}}',
            "answers is missing",
        ),
        (
            "typeform",
            b'{"event_type": "form_response", "form_response": {"answers": [1]}}',
            "no field object",
        ),
        (
            "typeform",
            b'{"event_type": "form_response", "form_response": {"answers": []}}',
            "no email answer",
        ),
        ("tally", b'{"eventType": "FORM_CREATED"}', "unsupported eventType"),
        ("tally", b'{"eventType": "FORM_RESPONSE", "data": {}}', "data.fields is missing"),
        (
            "tally",
            b'{"eventType": "FORM_RESPONSE", "data": {"fields": ["x"]}}',
            "a field is not an object",
        ),
        ("generic", b'{"name": "no email"}', "no email answer"),
        ("hubspot", b"{}", "hubspot: properties is missing"),
        ("zapier", b"{}", "no submission parser"),
    ],
)
def test_unparseable_payloads_raise_with_a_reason(source: str, body: bytes, reason: str) -> None:
    with pytest.raises(SubmissionParseError, match=reason):
        _parse(source, body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-01-18T18:17:02Z", datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)),
        ("2025-07-04T13:39:37.000Z", datetime(2025, 7, 4, 13, 39, 37, tzinfo=UTC)),
        ("2026-01-01T01:00:00+01:00", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        ("2026-01-01T00:00:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("yesterday", RECEIVED),
        (None, RECEIVED),
        (12, RECEIVED),
    ],
)
def test_parse_timestamp(value: object, expected: datetime) -> None:
    assert parse_timestamp(value, RECEIVED) == expected
