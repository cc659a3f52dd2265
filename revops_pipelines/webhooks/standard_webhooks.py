"""Custom-form deliveries signed with the Standard Webhooks scheme (reference integrations.md §2),
verified by the scheme's reference library (`standardwebhooks`), not by hand.

The library checks the three headers, the ±5-minute tolerance on `webhook-timestamp`, and accepts
any matching `v1,` signature among several (a sender signs with the old and the new secret during
a rotation; one signed only with a rotated-out secret is refused). The delivery is deduplicated on
the form and its `webhook-id`, which stays the same across the sender's retries.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from revops_pipelines.domain.custom_forms import MAX_MESSAGE_ID_CHARS, inbox_event_id
from revops_pipelines.store.inbox import body_event_id

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """None when genuine, else the 401's body: `{"error": ..., "detail": <the library's reason>}`
    (the reason never holds the secret)."""
    given = {name: headers[name] for name in HEADERS if name in headers}
    try:
        Webhook(secret).verify(body, given, json_parse=False)
    except WebhookVerificationError as exc:
        missing = "Missing required headers" in str(exc)
        error = "missing_signature" if missing else "invalid_signature"
        return {"error": error, "detail": str(exc)}
    except (ValueError, binascii.Error):  # a malformed signature list, or a body not UTF-8
        return {"error": "invalid_signature", "detail": "malformed signature or body"}
    return None


def event_id(form: str, message_id: str, body: bytes) -> str:
    """`<form>:<webhook-id>`; an unusable id falls back to the body's hash."""
    message_id = message_id.strip()
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS or not message_id.isprintable():
        return inbox_event_id(form, body_event_id(body))
    return inbox_event_id(form, message_id)
