"""Shared by the receiver tests: secrets, documented example payloads, signing like the senders."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from revops_pipelines.store.tables import webhook_inbox
from revops_pipelines.webhooks.sources import SIGNATURE_HEADER, SOURCES

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


def example(source: str) -> bytes:
    """The documented example payload of `source`, as the exact bytes a sender would post."""
    return (FIXTURES / EXAMPLES[source]).read_bytes()


def signed(source: str, body: bytes, secret: str | None = None, **extra: str) -> dict[str, str]:
    """Headers a genuine sender would send with `body`."""
    signature = SOURCES[source].sign(secret or SECRETS[source], body)
    return {"content-type": "application/json", SIGNATURE_HEADER[source]: signature, **extra}


def inbox_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(webhook_inbox)).scalar_one()
