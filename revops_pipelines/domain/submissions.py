"""Form submissions from Typeform, Tally, HubSpot (`hubspot_forms.py`) or a generic JSON form,
parsed into one shape.

Pure functions: bytes and values in, a `Submission` or a `SubmissionParseError` out. Validation and
normalization of the lead (email syntax, name parsing, company domain) happen downstream; parsing
only finds the answers and refuses payloads it cannot read, with a reason fit for the quarantine.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FORM_SOURCES = ("typeform", "tally", "hubspot", "forms")  # "forms": every custom form

_NAME = re.compile(r"full[ _-]?name|\bname\b", re.I)
_EMAIL_LABEL = re.compile(r"e-?mail", re.I)
_FIRST = re.compile(r"first[ _-]?name|given[ _-]?name|forename", re.I)
_LAST = re.compile(r"last[ _-]?name|surname|family[ _-]?name", re.I)
_COMPANY = re.compile(r"company|organi[sz]ation|business|employer|\borg\b", re.I)
_MESSAGE = re.compile(r"message|comment|question|how can we help|details|notes?\b", re.I)
_NOT_A_NAME = re.compile(r"company|organi[sz]ation|business|user[ _-]?name|file", re.I)


class SubmissionParseError(ValueError):
    """The payload cannot be read as a form submission; the message is the quarantine reason."""


@dataclass(frozen=True)
class Submission:
    """One form submission, whatever form tool sent it."""

    source: str  # typeform | tally | generic
    source_form: str  # the form's id (and name where the tool sends one)
    submitted_at: datetime
    email: str
    name: str | None
    company: str | None
    message: str | None
    raw_ref: str  # where the raw delivery is kept, e.g. "webhook_inbox:42"
    event_id: str
    answers: dict[str, Any] = field(default_factory=dict)  # every answer, by question label
    inbox_id: int | None = None  # the webhook_inbox row it was parsed from (None outside a run)


def parse_submission(
    source: str,
    body: bytes,
    *,
    raw_ref: str,
    event_id: str,
    received_at: datetime,
    inbox_id: int | None = None,
) -> Submission:
    """Parse one stored delivery of `source` into a `Submission` (of inbox row `inbox_id`)."""
    parser = _parser_for(source)
    if parser is None:
        raise SubmissionParseError(f"no submission parser for source {source!r}")
    payload = load_json_object(body)
    parsed = parser(payload, raw_ref=raw_ref, event_id=event_id, received_at=received_at)
    return parsed if inbox_id is None else dataclasses.replace(parsed, inbox_id=inbox_id)


def load_json_object(body: bytes) -> dict[str, Any]:
    """A stored webhook body as a JSON object, or SubmissionParseError saying why not."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise SubmissionParseError(f"body is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise SubmissionParseError(f"body is a JSON {type(payload).__name__}, expected an object")
    return payload


def parse_timestamp(value: Any, fallback: datetime) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime; `fallback` when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return fallback
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [t for t in (_text(v) for v in value) if t]
        return ", ".join(parts) or None
    return None


def _pick(answers: list[tuple[str, str, Any]], pattern: re.Pattern[str]) -> str | None:
    """The first answer whose label matches `pattern`, as text."""
    for label, _kind, value in answers:
        if pattern.search(label):
            text = _text(value)
            if text:
                return text
    return None


def _common_fields(answers: list[tuple[str, str, Any]], email_kinds: set[str]) -> dict[str, Any]:
    """email, name, company, message from `(label, kind, value)` triples."""
    emails = [a for a in answers if a[1] in email_kinds and _text(a[2])]
    if not emails:
        emails = [a for a in answers if _EMAIL_LABEL.search(a[0]) and _text(a[2])]
    email = _text(emails[0][2]) if emails else None
    others = [a for a in answers if a not in emails and not _EMAIL_LABEL.search(a[0])]
    people = [a for a in others if not _NOT_A_NAME.search(a[0])]
    full = [a for a in people if not _FIRST.search(a[0]) and not _LAST.search(a[0])]
    name = _pick(full, _NAME)
    if name is None:
        first, last = _pick(people, _FIRST), _pick(people, _LAST)
        name = " ".join(p for p in (first, last) if p) or None
    long_texts = [a for a in others if a[1] in {"long_text", "TEXTAREA"} and _text(a[2])]
    message = _pick(others, _MESSAGE) or (_text(long_texts[0][2]) if long_texts else None)
    return {"email": email, "name": name, "company": _pick(others, _COMPANY), "message": message}


def _require_email(fields: Mapping[str, Any], where: str) -> str:
    email = fields.get("email")
    if not email:
        raise SubmissionParseError(f"{where}: no email answer found")
    return str(email)


def _typeform_value(answer: Mapping[str, Any]) -> Any:
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(value, Mapping):
        return value.get("label") or value.get("other")
    if kind == "choices" and isinstance(value, Mapping):
        labels = list(value.get("labels") or [])
        return labels + ([value["other"]] if value.get("other") else [])
    if kind == "payment" and isinstance(value, Mapping):
        return value.get("amount")
    return value


def parse_typeform(
    payload: Mapping[str, Any], *, raw_ref: str, event_id: str, received_at: datetime
) -> Submission:
    """Typeform's `form_response` webhook: answers are matched to questions by field id."""
    event_type = payload.get("event_type")
    if event_type != "form_response":
        raise SubmissionParseError(f"typeform: unsupported event_type {event_type!r}")
    response = payload.get("form_response")
    if not isinstance(response, Mapping):
        raise SubmissionParseError("typeform: form_response is missing or not an object")
    raw_answers = response.get("answers")
    if not isinstance(raw_answers, list):
        raise SubmissionParseError("typeform: form_response.answers is missing or not a list")
    definition = (
        response.get("definition") if isinstance(response.get("definition"), Mapping) else {}
    )
    titles = {
        f.get("id"): f.get("title") or ""
        for f in definition.get("fields") or []
        if isinstance(f, Mapping)
    }
    answers: list[tuple[str, str, Any]] = []
    for answer in raw_answers:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("field"), Mapping):
            raise SubmissionParseError("typeform: an answer has no field object")
        fld = answer["field"]
        label = " ".join(str(x) for x in (titles.get(fld.get("id")), fld.get("ref")) if x)
        kind = "email" if answer.get("type") == "email" else str(fld.get("type") or "")
        answers.append((label or str(fld.get("id")), kind, _typeform_value(answer)))
    hidden = response.get("hidden") if isinstance(response.get("hidden"), Mapping) else {}
    answers += [(str(k), "hidden", v) for k, v in hidden.items()]
    fields = _common_fields(answers, {"email"})
    form_id = str(response.get("form_id") or definition.get("id") or "")
    title = definition.get("title")
    return Submission(
        source="typeform",
        source_form=f"{form_id} ({title})" if title else form_id,
        submitted_at=parse_timestamp(response.get("submitted_at"), received_at),
        email=_require_email(fields, "typeform"),
        name=fields["name"],
        company=fields["company"],
        message=fields["message"],
        raw_ref=raw_ref,
        event_id=event_id,
        answers={label: value for label, _k, value in answers},
    )


def _tally_value(item: Mapping[str, Any]) -> Any:
    value = item.get("value")
    options = item.get("options")
    if isinstance(value, list) and isinstance(options, list):
        by_id = {o.get("id"): o.get("text") for o in options if isinstance(o, Mapping)}
        return [by_id.get(v, v) for v in value]
    return value


def parse_tally(
    payload: Mapping[str, Any], *, raw_ref: str, event_id: str, received_at: datetime
) -> Submission:
    """Tally's `FORM_RESPONSE` webhook: a flat list of labelled fields."""
    event_type = payload.get("eventType")
    if event_type != "FORM_RESPONSE":
        raise SubmissionParseError(f"tally: unsupported eventType {event_type!r}")
    data = payload.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("fields"), list):
        raise SubmissionParseError("tally: data.fields is missing or not a list")
    answers: list[tuple[str, str, Any]] = []
    for item in data["fields"]:
        if not isinstance(item, Mapping):
            raise SubmissionParseError("tally: a field is not an object")
        label = str(item.get("label") or item.get("key") or "")
        answers.append((label, str(item.get("type") or ""), _tally_value(item)))
    fields = _common_fields(answers, {"INPUT_EMAIL"})
    form_id, form_name = str(data.get("formId") or ""), data.get("formName")
    return Submission(
        source="tally",
        source_form=f"{form_id} ({form_name})" if form_name else form_id,
        submitted_at=parse_timestamp(
            data.get("createdAt") or payload.get("createdAt"), received_at
        ),
        email=_require_email(fields, "tally"),
        name=fields["name"],
        company=fields["company"],
        message=fields["message"],
        raw_ref=raw_ref,
        event_id=event_id,
        answers={label: value for label, _k, value in answers},
    )


def parse_generic(
    payload: Mapping[str, Any], *, raw_ref: str, event_id: str, received_at: datetime
) -> Submission:
    """A flat JSON form post: `email`, `name` (or `first_name`/`last_name`), `company`,
    `message`, optional `form` and `submitted_at`."""
    answers = [(str(k), "email" if k == "email" else "", v) for k, v in payload.items()]
    fields = _common_fields(answers, {"email"})
    return Submission(
        source="generic",
        source_form=_text(payload.get("form")) or "generic",
        submitted_at=parse_timestamp(payload.get("submitted_at"), received_at),
        email=_require_email(fields, "generic"),
        name=fields["name"],
        company=fields["company"],
        message=fields["message"],
        raw_ref=raw_ref,
        event_id=event_id,
        answers=dict(payload),
    )


def _parser_for(source: str) -> Callable[..., Submission] | None:
    if source == "hubspot":
        # Imported here: hubspot_forms builds on this module's Submission.
        from revops_pipelines.domain.hubspot_forms import parse_hubspot

        return parse_hubspot
    return _PARSERS.get(source)


_PARSERS: dict[str, Callable[..., Submission]] = {
    "typeform": parse_typeform,
    "tally": parse_tally,
    "generic": parse_generic,
}
