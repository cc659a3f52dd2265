"""HubSpot form leads: the contact a workflow's "Send a webhook" action posts, read as a lead.

The body is the enrolled contact with "all properties" (reference integrations.md §1.2). That it
is the legacy v1 contact-profile JSON (`vid`, `properties.<name>.value`, `form-submissions[]`) is
UNCONFIRMED; the docs' wording ("the exact same data … plus historical values") strongly suggests
it, so that is the shape read here. Where a fact is unconfirmed the safer reading is chosen:

- The submission that triggered the webhook is presumed to be the newest by `timestamp`
  (UNCONFIRMED): the newest one is parsed, and a contact without any submission is refused
  (quarantined) rather than guessed at.
- No per-delivery id header is documented, so a delivery is identified by the contact and the
  newest submission's `conversion-id`: a retry of the same webhook is a duplicate, a second form
  fill by the same contact is a new lead.
- `message` as HubSpot's default property name is UNCONFIRMED: it is read when present, with a
  few common alternatives, and its absence is no error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from revops_pipelines.domain.submissions import Submission, SubmissionParseError

_MESSAGE_PROPERTIES = ("message", "comments", "how_can_we_help", "description")


def newest_submission(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The contact's newest `form-submissions` entry by `timestamp`, or None when it has none."""
    items = payload.get("form-submissions")
    if not isinstance(items, list):
        return None
    dated = [s for s in items if isinstance(s, Mapping) and _millis(s.get("timestamp")) is not None]
    return max(dated, key=lambda s: _millis(s.get("timestamp")) or 0, default=None)


def hubspot_event_id(payload: Mapping[str, Any]) -> str | None:
    """`<contact vid>:<conversion-id>` of the newest submission (the dedupe key), or None."""
    vid = payload.get("canonical-vid") or payload.get("vid")
    newest = newest_submission(payload)
    conversion = newest.get("conversion-id") if newest else None
    if isinstance(vid, bool) or not isinstance(vid, int | str) or not conversion:
        return None
    return f"{vid}:{conversion}"


def _millis(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _property(properties: Mapping[str, Any], name: str) -> str | None:
    item = properties.get(name)
    value = item.get("value") if isinstance(item, Mapping) else None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _identity_email(payload: Mapping[str, Any]) -> str | None:
    for profile in payload.get("identity-profiles") or []:
        for identity in (profile or {}).get("identities") or []:
            if isinstance(identity, Mapping) and identity.get("type") == "EMAIL":
                value = identity.get("value")
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


def parse_hubspot(
    payload: Mapping[str, Any], *, raw_ref: str, event_id: str, received_at: datetime
) -> Submission:
    """The lead of a HubSpot workflow webhook, from the contact and its newest submission."""
    properties = payload.get("properties")
    if not isinstance(properties, Mapping):
        raise SubmissionParseError("hubspot: properties is missing or not an object")
    newest = newest_submission(payload)
    if newest is None:
        raise SubmissionParseError("hubspot: the contact has no form-submissions entry")
    email = _property(properties, "email") or _identity_email(payload)
    if not email:
        raise SubmissionParseError("hubspot: the contact has no email")
    first, last = _property(properties, "firstname"), _property(properties, "lastname")
    form_id = str(newest.get("form-id") or "")
    if not form_id:
        raise SubmissionParseError("hubspot: the newest submission has no form-id")
    title = newest.get("title") if isinstance(newest.get("title"), str) else None
    submitted = datetime.fromtimestamp((_millis(newest.get("timestamp")) or 0) / 1000, tz=UTC)
    message = next((m for m in (_property(properties, n) for n in _MESSAGE_PROPERTIES) if m), None)
    answers: dict[str, Any] = {
        name: _property(properties, name)
        for name in properties
        if isinstance(name, str) and _property(properties, name) is not None
    }
    return Submission(
        source="hubspot",
        source_form=f"{form_id} ({title})" if title else form_id,
        submitted_at=submitted,
        email=email,
        name=" ".join(p for p in (first, last) if p) or None,
        company=_property(properties, "company"),
        message=message,
        raw_ref=raw_ref,
        event_id=event_id,
        answers=answers,
    )
