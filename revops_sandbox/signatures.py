"""How the form vendors sign their webhook deliveries, for the stand-in senders.

From the vendors' documented algorithms (shared/reference salesforce-and-sources.md §3.2, §4.2),
written here independently of the product's verifiers so that a misreading on either side fails:
- Typeform: `Typeform-Signature: sha256=<base64(HMAC-SHA256(secret, raw body))>`;
- Tally: `Tally-Signature: <base64(HMAC-SHA256(signing secret, raw body))>`, no prefix, no
  timestamp (Tally's own wording is UNCONFIRMED; this is what published verifiers compute).
- HubSpot: v3, v2 and v1 request signatures (integrations.md §1.5), below;
- Standard Webhooks (custom forms, integrations.md §2), below.
All sign the exact bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re


def _hmac_sha256_base64(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def typeform_signature(secret: str, body: bytes) -> str:
    """The `Typeform-Signature` header value for `body`."""
    return "sha256=" + _hmac_sha256_base64(secret, body)


def tally_signature(secret: str, body: bytes) -> str:
    """The `Tally-Signature` header value for `body`."""
    return _hmac_sha256_base64(secret, body)


# HubSpot (integrations.md §1.5). v3 signs method + URI + body + the millisecond timestamp, the URI
# with these escapes decoded (a third-party consensus; HubSpot's table is UNCONFIRMED).
_HUBSPOT_V3_ESCAPES = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}


def hubspot_signature_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: int) -> str:
    """`X-HubSpot-Signature-v3`: base64 HMAC-SHA256(client secret, method+URI+body+timestamp)."""
    uri = re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: _HUBSPOT_V3_ESCAPES.get(m.group(1).upper(), m.group(0)),
        url,
    )
    source = f"{method}{uri}".encode() + body + str(timestamp_ms).encode()
    return _hmac_sha256_base64(secret, source)


def hubspot_signature_v2(secret: str, method: str, url: str, body: bytes) -> str:
    """`X-HubSpot-Signature` (version v2): hex SHA-256 of secret+method+URI+body."""
    return hashlib.sha256(f"{secret}{method}{url}".encode() + body).hexdigest()


def hubspot_signature_v1(secret: str, body: bytes) -> str:
    """`X-HubSpot-Signature` (version v1): hex SHA-256 of secret+body."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def standard_webhooks_signature(
    secrets: list[str], msg_id: str, timestamp: int, body: bytes
) -> str:
    """`webhook-signature` (Standard Webhooks §2.2): space-separated `v1,<base64 HMAC-SHA256>`
    over `id.timestamp.body`, one per secret (several during a rotation). The key is the
    base64-decoded secret after its `whsec_` prefix."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(parts)
