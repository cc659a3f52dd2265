"""HubSpot's request signatures (reference integrations.md §1.5), checked on the raw request.

- v3 (`X-HubSpot-Signature-v3`): base64 HMAC-SHA256 under the client secret over
  method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds); refused when the timestamp
  is more than 5 minutes away from now.
- v2 / v1 (`X-HubSpot-Signature`, as `X-HubSpot-Signature-Version` says): hex SHA-256 of
  secret + method + URI + body (v2) or secret + body (v1). They carry no timestamp; they are
  accepted only when the request has no v3 signature, because which versions a workflow webhook
  sends is UNCONFIRMED. A replayed v1/v2 delivery is still only a duplicate: the inbox is unique
  on the contact and the submission's conversion id.

The URI is the full URL HubSpot called. Behind a proxy the receiver cannot see it, so
`HUBSPOT_WEBHOOK_URL` may name the public URL (the request's query string is kept). For v3,
HubSpot decodes some percent-escapes before signing; the exact list is UNCONFIRMED (third-party
consensus: 12 characters), so a v3 signature is accepted over the decoded URI or, failing
that, the URI exactly as received: both need the secret, and a lead is not lost to a table guess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

V3_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
LEGACY_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"
HEADERS = (V3_HEADER, TIMESTAMP_HEADER, LEGACY_HEADER, VERSION_HEADER)
MAX_SKEW_MS = 5 * 60 * 1000

# Reference §1.5 v3 "URI decoding rule" (UNCONFIRMED list; `?` itself is never encoded).
_V3_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: the listed percent-escapes decoded (any case)."""
    out, i = [], 0
    while i < len(uri):
        chunk = uri[i : i + 3].upper()
        if uri[i] == "%" and chunk in _V3_DECODE:
            out.append(_V3_DECODE[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode("utf-8") + body + timestamp.encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256((secret + method + uri).encode("utf-8") + body).hexdigest()


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode("latin-1", "replace"))


def verify(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
) -> str | None:
    """None when the request is genuine, else the refusal (the 401's `error` code)."""
    v3 = headers.get(V3_HEADER)
    if v3:
        stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        if not stamp.isdigit():
            return "missing_timestamp"
        if abs(now_ms - int(stamp)) > MAX_SKEW_MS:
            return "timestamp_outside_window"
        candidates = dict.fromkeys((v3_uri(uri), uri))
        if any(_same(sign_v3(secret, method, u, body, stamp), v3) for u in candidates):
            return None
        return "invalid_signature"
    legacy = headers.get(LEGACY_HEADER)
    if not legacy:
        return "missing_signature"
    version = (headers.get(VERSION_HEADER) or "v1").strip().lower()
    if version == "v2":
        expected = sign_v2(secret, method, uri, body)
    elif version == "v1":
        expected = sign_v1(secret, body)
    else:
        return "unsupported_signature_version"
    return None if _same(expected, legacy.lower()) else "invalid_signature"


def public_uri(configured: str | None, received: str, query: str) -> str:
    """The URI HubSpot signed: the configured public URL (plus the query) or the one received."""
    if not configured:
        return received
    return f"{configured}?{query}" if query else configured
