"""Write product-usage rollups to the Attio records that already exist (never creates any)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from revops_pipelines.domain.attio_values import record_id
from revops_pipelines.domain.usage import PlannedWrite, UsageObject
from revops_pipelines.resources.attio import AttioClient, AttioError, AttioResource

MATCH_FILTER: dict[UsageObject, str] = {"people": "email_addresses", "companies": "domains"}


@dataclass(frozen=True)
class WriteOutcome:
    write: PlannedWrite
    status: str  # written | not_in_attio | failed
    attio_record_id: str | None = None
    message: str | None = None


async def _find(client: AttioClient, obj: UsageObject, key: str) -> str | None:
    found = [
        r
        async for r in client.records.query(
            obj, filter={MATCH_FILTER[obj]: key}, page_size=1, limit=1
        )
    ]
    return record_id(found[0]) if found else None


async def _write_one(client: AttioClient, write: PlannedWrite) -> WriteOutcome:
    values = write.summary.attio_values()
    try:
        rid = write.attio_record_id or await _find(client, write.object, write.key)
        if rid is None:
            return WriteOutcome(write, "not_in_attio")
        try:
            await client.records.update(write.object, rid, values)
        except AttioError as exc:
            if exc.status_code != 404 or write.attio_record_id is None:
                raise
            rid = await _find(client, write.object, write.key)  # the record was merged/deleted
            if rid is None:
                return WriteOutcome(write, "not_in_attio")
            await client.records.update(write.object, rid, values)
        return WriteOutcome(write, "written", rid)
    except AttioError as exc:
        return WriteOutcome(write, "failed", message=str(exc))


async def write_all(attio: AttioResource, writes: Sequence[PlannedWrite]) -> list[WriteOutcome]:
    if not writes:
        return []
    async with attio.client() as client:  # its limiter keeps concurrent writes in the budget
        return list(await asyncio.gather(*(_write_one(client, w) for w in writes)))
