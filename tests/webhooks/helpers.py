"""Shared by the receiver tests: secrets, documented example payloads, the signature vectors, and
signing like the senders do, written here from the vendors' documented algorithms rather than
borrowed from the receiver (whose signer the vectors check separately)."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from revops_pipelines.store.tables import webhook_inbox

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRETS = {
    "typeform": "tf-secret-a1b2c3-DO-NOT-LOG",
    "tally": "tally-secret-d4e5f6-DO-NOT-LOG",
    "attio": "attio-secret-0718-DO-NOT-LOG",
    "segment": "segment-secret-9a8b-DO-NOT-LOG",
}
EXAMPLES = {
    "typeform": "typeform_example.json",
    "tally": "tally_example.json",
    "attio": "attio_record_updated.json",
    "segment": "segment_track.json",
}
# The header each sender signs in (lower case, as HTTP clients and the receiver see it).
HEADERS = {
    "typeform": "typeform-signature",
    "tally": "tally-signature",
    "attio": "attio-signature",
    "segment": "x-signature",
}


def _hmac(secret: str, body: bytes, digest: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, digest).digest()


def sign(source: str, secret: str, body: bytes) -> str:
    """The signature header value a genuine `source` sender puts on `body`."""
    if source == "typeform":  # 'sha256=' + base64 HMAC-SHA256
        return "sha256=" + base64.b64encode(_hmac(secret, body, "sha256")).decode("ascii")
    if source == "tally":  # base64 HMAC-SHA256, no prefix
        return base64.b64encode(_hmac(secret, body, "sha256")).decode("ascii")
    if source == "attio":  # hex HMAC-SHA256
        return _hmac(secret, body, "sha256").hex()
    if source == "segment":  # hex HMAC-SHA1
        return _hmac(secret, body, "sha1").hex()
    raise ValueError(f"no test-side signer for {source!r}")


@dataclass(frozen=True)
class Vector:
    """One entry of fixtures/signature_vectors.json (values computed with openssl)."""

    source: str
    header: str
    legacy_header: str | None
    secret: str
    body: bytes
    body_bytes: int
    body_sha256: str
    expected_header: str


def vectors() -> list[Vector]:
    raw = json.loads((FIXTURES / "signature_vectors.json").read_text("utf-8"))["vectors"]
    return [
        Vector(
            source=v["source"],
            header=v["header"],
            legacy_header=v.get("legacy_header"),
            secret=v["secret"],
            body=v["body"].encode("utf-8"),
            body_bytes=v["body_bytes"],
            body_sha256=v["body_sha256"],
            expected_header=v["expected_header"],
        )
        for v in raw
    ]


def example(source: str) -> bytes:
    """The documented example payload of `source`, as the exact bytes a sender would post."""
    return (FIXTURES / EXAMPLES[source]).read_bytes()


def signed(source: str, body: bytes, secret: str | None = None, **extra: str) -> dict[str, str]:
    """Headers a genuine sender would send with `body`."""
    signature = sign(source, secret or SECRETS[source], body)
    return {"content-type": "application/json", HEADERS[source]: signature, **extra}


def inbox_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(webhook_inbox)).scalar_one()
