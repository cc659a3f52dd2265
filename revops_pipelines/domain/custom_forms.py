"""Custom forms (`config/forms.yaml`): each form's signing secret and how its JSON maps onto a lead.

A custom form posts JSON to `POST /webhooks/forms/{form}`, signed with the Standard Webhooks
scheme under the form's own secret (an environment variable named here). Its fields are read by
dotted paths (`contact.email`, `answers.0.value`) into the lead's email, name (or first and last
name), company, message, phone and consent. Pure: the model validates the file (a mistake fails
`dg check defs` with the file and line), and `parse_custom_form` turns one payload into a
`Submission` or refuses it with a reason for the quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops_pipelines.domain.submissions import (
    Submission,
    SubmissionParseError,
    load_json_object,
    parse_timestamp,
)

INBOX_SOURCE = "forms"  # every custom form's deliveries share this inbox source
# Names a custom form may not take: they are the built-in sources and would mix with them.
RESERVED = frozenset({"typeform", "tally", "hubspot", "generic", "attio", "segment", "forms"})
MAX_MESSAGE_ID_CHARS = 150  # with the form key, inside the inbox's event id column
_PATH = r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$"


class FieldMap(BaseModel):
    """Where each lead field is in the form's JSON (dotted paths; list items by index)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str = Field(pattern=_PATH, description="Path of the email address (required).")
    name: str | None = Field(default=None, pattern=_PATH, description="Full name.")
    first_name: str | None = Field(default=None, pattern=_PATH)
    last_name: str | None = Field(default=None, pattern=_PATH)
    company: str | None = Field(default=None, pattern=_PATH)
    message: str | None = Field(default=None, pattern=_PATH)
    phone: str | None = Field(default=None, pattern=_PATH)
    consent: str | None = Field(default=None, pattern=_PATH, description="A yes/no answer.")
    submitted_at: str | None = Field(default=None, pattern=_PATH, description="ISO-8601 time.")

    @model_validator(mode="after")
    def _one_way_to_name(self) -> FieldMap:
        if self.name and (self.first_name or self.last_name):
            raise ValueError("map either name or first_name/last_name, not both")
        return self


class CustomForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_env: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Environment variable holding the form's `whsec_` signing secret.",
    )
    title: str | None = Field(default=None, description="Shown with the form id.")
    fields: FieldMap


class FormsConfig(BaseModel):
    """`forms.yaml`: form key (the URL's `{form}` and the lead's `lead_source`) -> its form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forms: dict[str, CustomForm] = Field(default_factory=dict)

    @field_validator("forms")
    @classmethod
    def _keys(cls, forms: dict[str, CustomForm]) -> dict[str, CustomForm]:
        for key in forms:
            if key in RESERVED:
                raise ValueError(f"form key {key!r} is reserved for a built-in source")
            if not (key[:1].isalpha() and key.replace("_", "").replace("-", "").isalnum()):
                raise ValueError(f"form key {key!r}: use letters, digits, '_' or '-'")
            if len(key) > 40 or not key.isascii() or key != key.lower():
                raise ValueError(f"form key {key!r}: lower-case ASCII, at most 40 characters")
        return forms

    def secret_envs(self) -> dict[str, str]:
        return {key: form.secret_env for key, form in self.forms.items()}


def inbox_event_id(form: str, message_id: str) -> str:
    """The inbox event id of a delivery: the form and its `webhook-id` (unique per form)."""
    return f"{form}:{message_id}"


def _at(payload: Any, path: str) -> Any:
    node = payload
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def parse_custom_form(
    config: FormsConfig,
    event_id: str,
    payload: Mapping[str, Any],
    *,
    raw_ref: str,
    received_at: datetime,
) -> Submission:
    """The lead of one custom-form delivery stored as `<form>:<webhook-id>`."""
    form_key, _, message_id = event_id.partition(":")
    form = config.forms.get(form_key)
    if form is None:
        raise SubmissionParseError(f"forms: {form_key!r} is no longer in forms.yaml")
    fields = form.fields
    email = _text(_at(payload, fields.email))
    if not email:
        raise SubmissionParseError(f"{form_key}: no email at the mapped field {fields.email!r}")
    if fields.name:
        name = _text(_at(payload, fields.name))
    else:
        parts = [_text(_at(payload, p)) for p in (fields.first_name, fields.last_name) if p]
        name = " ".join(p for p in parts if p) or None
    answers: dict[str, Any] = {}
    if fields.phone:
        answers["phone"] = _text(_at(payload, fields.phone))
    if fields.consent:
        answers["consent"] = _at(payload, fields.consent)
    submitted = _text(_at(payload, fields.submitted_at)) if fields.submitted_at else None
    return Submission(
        source=form_key,
        source_form=f"{form_key} ({form.title})" if form.title else form_key,
        submitted_at=parse_timestamp(submitted, received_at),
        email=email,
        name=name,
        company=_text(_at(payload, fields.company)) if fields.company else None,
        message=_text(_at(payload, fields.message)) if fields.message else None,
        raw_ref=raw_ref,
        event_id=message_id or event_id,
        answers={k: v for k, v in answers.items() if v is not None},
    )


def parse_custom_delivery(
    config: FormsConfig, event_id: str, body: bytes, *, raw_ref: str, received_at: datetime
) -> Submission:
    """`parse_custom_form` of a stored raw body."""
    payload = load_json_object(body)
    return parse_custom_form(config, event_id, payload, raw_ref=raw_ref, received_at=received_at)
