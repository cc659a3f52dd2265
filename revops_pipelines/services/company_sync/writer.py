"""Apply a company sync plan to Attio, concurrently inside the credential's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from revops_pipelines.domain.attio_values import record_id as record_id_of
from revops_pipelines.domain.company_sync import CompanyAction
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.store.sync_records import SyncOutcome

COMPANIES = "companies"


def outcome_without_write(action: CompanyAction) -> SyncOutcome | None:
    """The bookkeeping for an action that sends nothing (None: nothing to record)."""
    if action.operation == "reject":
        return SyncOutcome(
            action.source_id, "reject", "rejected", action.row_hash, message=action.reason
        )
    if action.operation == "conflict":
        return SyncOutcome(
            action.source_id,
            "conflict",
            "conflict",
            action.row_hash,
            action.domain,
            message=action.reason,
        )
    if action.operation == "skip" and action.reason != "unchanged":
        status = "deleted" if "deleted" in action.reason or "deletion" in action.reason else "ok"
        return SyncOutcome(
            action.source_id,
            "skip",
            status,
            action.row_hash,
            record_id=action.record_id,
            message=action.reason,
        )
    return None


async def _upsert(client: AttioClient, action: CompanyAction) -> str:
    values = action.values or {}
    if action.record_id:
        try:
            # PUT by id replaces multiselects, so a changed domain does not leave the old one.
            return record_id_of(
                await client.records.update(COMPANIES, action.record_id, values, overwrite=True)
            )
        except AttioError as exc:
            if exc.status_code != 404:
                raise
            # The company was deleted or merged away in Attio: find or create it afresh.
    if action.domain:
        record = await client.records.assert_record(
            COMPANIES, matching_attribute="domains", values=values
        )
        return record_id_of(record)
    identity = {"salesforce_id": action.source_id}
    # No unique key: look before creating, so a run killed after a create never duplicates it.
    existing = [
        r async for r in client.records.query(COMPANIES, filter=identity, page_size=2, limit=2)
    ]
    if len(existing) > 1:
        raise AttioError(
            method="POST",
            path="objects/companies/records/query",
            status_code=None,
            type="client_error",
            code="identity_not_unique",
            message=f"{len(existing)} companies carry salesforce_id {action.source_id}",
        )
    if existing:
        record = await client.records.update(
            COMPANIES, record_id_of(existing[0]), values, overwrite=True
        )
    else:
        record = await client.records.create(COMPANIES, values, identity=identity)
    return record_id_of(record)


async def _apply(client: AttioClient, action: CompanyAction) -> SyncOutcome:
    try:
        if action.operation == "upsert":
            rid = await _upsert(client, action)
            return SyncOutcome(
                action.source_id,
                action.reason,
                "ok",
                action.row_hash,
                action.domain,
                rid,
                payload=action.values,
                two_way=action.two_way,
            )
        assert action.record_id is not None
        if action.operation == "delete":
            await client.records.delete(COMPANIES, action.record_id)
        else:
            await client.records.update(
                COMPANIES, action.record_id, action.values or {}, overwrite=True
            )
        return SyncOutcome(
            action.source_id,
            action.operation,
            "deleted",
            action.row_hash,
            record_id=action.record_id,
        )
    except AttioError as exc:
        # Retryable failures that outlived their retries are errors (the next run writes the row
        # again); anything else is Attio refusing this row: rejected, with Attio's own message.
        status = (
            "error" if (exc.retryable or exc.ambiguous or exc.status_code is None) else "rejected"
        )
        return SyncOutcome(
            action.source_id,
            action.operation,
            status,
            action.row_hash,
            record_id=action.record_id,
            message=str(exc),
            payload=action.values,
        )


async def write_company_actions(
    client: AttioClient,
    actions: Sequence[CompanyAction],
    on_outcome: Callable[[SyncOutcome], None],
) -> None:
    """Send every write action at once; the client's budget and concurrency cap pace them.
    `on_outcome` hears each result as it arrives, so a killed run keeps what it finished."""

    async def one(action: CompanyAction) -> None:
        on_outcome(await _apply(client, action))

    await asyncio.gather(*(one(a) for a in actions))
