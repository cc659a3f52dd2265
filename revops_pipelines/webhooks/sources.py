"""The webhook sources the receiver knows: how each signs its deliveries and names its events.

| source   | secret (env)            | header             | signature over the raw body     |
|----------|-------------------------|--------------------|---------------------------------|
| typeform | TYPEFORM_WEBHOOK_SECRET | Typeform-Signature | `sha256=` + base64 HMAC-SHA256  |
| tally    | TALLY_WEBHOOK_SECRET    | Tally-Signature    | base64 HMAC-SHA256              |
| attio    | ATTIO_WEBHOOK_SECRET    | Attio-Signature    | hex HMAC-SHA256 (or X-Attio-…)  |
| segment  | SEGMENT_WEBHOOK_SECRET  | X-Signature        | hex HMAC-SHA1 (shared secret)   |

Segment's Webhooks destinations sign with an optional shared secret as a hex HMAC-SHA1 in
`X-Signature`; the receiver requires it like the other secrets.

Event ids (the dedupe key with the source): Typeform `event_id`, Tally `eventId`, Attio the
`Idempotency-Key` header, Segment `messageId`; a delivery without one is keyed by the SHA-256 of its
body, so a byte-identical redelivery is still a duplicate. Attio's key is a header the signature
does not cover, so its body's digest is a second key: seen within the replay window
(`REVOPS_WEBHOOK_REPLAY_WINDOW_SECONDS`), the delivery is a duplicate whatever its key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from revops_pipelines.store.inbox import body_event_id

MAX_EVENT_ID_CHARS = 200


def _hmac(secret: str, body: bytes, digest: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, digest).digest()


def sign_typeform(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(_hmac(secret, body, "sha256")).decode("ascii")


def sign_tally(secret: str, body: bytes) -> str:
    return base64.b64encode(_hmac(secret, body, "sha256")).decode("ascii")


def sign_attio(secret: str, body: bytes) -> str:
    return _hmac(secret, body, "sha256").hex()


def sign_segment(secret: str, body: bytes) -> str:
    return _hmac(secret, body, "sha1").hex()


def _event_id_field(name: str) -> Callable[[Mapping[str, Any], Mapping[str, str]], Any]:
    return lambda payload, _headers: payload.get(name)


@dataclass(frozen=True)
class Source:
    name: str
    secret_env: str
    signature_headers: tuple[str, ...]  # the first one present is used
    sign: Callable[[str, bytes], str]
    case_insensitive: bool  # hex signatures compare without regard to case
    event_id_of: Callable[[Mapping[str, Any], Mapping[str, str]], Any]
    headers_of_interest: tuple[str, ...] = ()
    # The event id comes from a header the signature does not cover: a body re-sent under a new
    # id would pass, so its digest is a second dedupe key within the replay window.
    dedupe_body_digest: bool = False

    def signature(self, headers: Mapping[str, str]) -> str | None:
        for header in self.signature_headers:
            value = headers.get(header)
            if value:
                return value
        return None

    def verify(self, secret: str, body: bytes, signature: str) -> bool:
        """Constant-time comparison of `signature` with the one expected for `body`."""
        expected = self.sign(secret, body)
        given = signature.strip()
        if self.case_insensitive:
            given = given.lower()
        return hmac.compare_digest(
            expected.encode("latin-1"), given.encode("latin-1", errors="replace")
        )

    def event_id(self, payload: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> str:
        value = self.event_id_of(payload, headers)
        if isinstance(value, bool) or not isinstance(value, str | int):
            return body_event_id(body)
        text = str(value).strip()
        if not text:
            return body_event_id(body)
        if len(text) > MAX_EVENT_ID_CHARS or not text.isprintable():  # e.g. NUL: not storable
            return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return text


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name="typeform",
            secret_env="TYPEFORM_WEBHOOK_SECRET",
            signature_headers=("typeform-signature",),
            sign=sign_typeform,
            case_insensitive=False,
            event_id_of=_event_id_field("event_id"),
        ),
        Source(
            name="tally",
            secret_env="TALLY_WEBHOOK_SECRET",
            signature_headers=("tally-signature",),
            sign=sign_tally,
            case_insensitive=False,
            event_id_of=_event_id_field("eventId"),
        ),
        Source(
            name="attio",
            secret_env="ATTIO_WEBHOOK_SECRET",
            signature_headers=("attio-signature", "x-attio-signature"),
            sign=sign_attio,
            case_insensitive=True,
            event_id_of=lambda _payload, headers: headers.get("idempotency-key"),
            headers_of_interest=("idempotency-key",),
            dedupe_body_digest=True,
        ),
        Source(
            name="segment",
            secret_env="SEGMENT_WEBHOOK_SECRET",
            signature_headers=("x-signature",),
            sign=sign_segment,
            case_insensitive=True,
            event_id_of=_event_id_field("messageId"),
        ),
    )
}

SIGNATURE_HEADER = {name: source.signature_headers[0] for name, source in SOURCES.items()}
