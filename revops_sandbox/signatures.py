"""How the form vendors sign their webhook deliveries, for the stand-in senders.

From the vendors' documented algorithms (shared/reference salesforce-and-sources.md §3.2, §4.2),
written here independently of the product's verifiers so that a misreading on either side fails:
- Typeform: `Typeform-Signature: sha256=<base64(HMAC-SHA256(secret, raw body))>`;
- Tally: `Tally-Signature: <base64(HMAC-SHA256(signing secret, raw body))>`, no prefix, no
  timestamp (Tally's own wording is UNCONFIRMED; this is what published verifiers compute).
Both sign the exact bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _hmac_sha256_base64(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def typeform_signature(secret: str, body: bytes) -> str:
    """The `Typeform-Signature` header value for `body`."""
    return "sha256=" + _hmac_sha256_base64(secret, body)


def tally_signature(secret: str, body: bytes) -> str:
    """The `Tally-Signature` header value for `body`."""
    return _hmac_sha256_base64(secret, body)
