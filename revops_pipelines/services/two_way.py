"""Write two-way fields changed in Attio back to the Salesforce account (flow C).

For each synced company that a batch of Attio events says changed (the per-attribute burst of
one record is one change), read the company and the account as they are now, decide per field
with `domain.two_way`, PATCH Salesforce with what Attio changed, write Attio where Salesforce
won a conflict, record every conflict, and store the values both sides now agree on. Our own
writes come back as webhooks too; they find both sides equal to the baseline and do nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_events import NormalizedEvent, records_to_fetch
from revops_pipelines.domain.company_mapping import IS_DELETED, MODIFIED_AT, ROW_HASH, map_accounts
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.soql import select_query, soql_string
from revops_pipelines.domain.two_way import (
    FieldDecision,
    attio_side,
    baseline_values,
    decide_fields,
    salesforce_value,
    two_way_rules,
)
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.salesforce_http import SalesforceApiError
from revops_pipelines.services.company_sync.sync import SYNC_NAME
from revops_pipelines.store import two_way as store

if TYPE_CHECKING:
    pass

COMPANIES = "companies"


@dataclass
class WriteBackReport:
    """What the write-back did in one batch (asset metadata)."""

    decisions: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (Attio company, Salesforce account, attribute, action, reason)
    salesforce_patches: int = 0
    attio_writes: int = 0
    conflicts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why a changed company was left
    rejected: list[str] = field(default_factory=list)  # Salesforce refused the PATCH
    errors: list[str] = field(default_factory=list)  # failed for now: the batch is retried


class TwoWayWriteBack:
    """One batch's write-back over an open Attio client, Salesforce and the store."""

    def __init__(
        self,
        client: AttioClient,
        engine: sa.Engine,
        salesforce: SalesforceResource,
        mapping: FieldMapping,
        *,
        run_id: str,
        log: Any = None,
    ) -> None:
        self.client, self.engine, self.salesforce = client, engine, salesforce
        self.mapping, self.run_id, self.log = mapping, run_id, log
        self.report = WriteBackReport()

    async def companies_changed(
        self, events: Iterable[NormalizedEvent], companies_object_id: str | None
    ) -> None:
        """Handle every company of the batch whose events may touch a two-way attribute."""
        if companies_object_id is None or not two_way_rules(self.mapping):
            return
        changes = records_to_fetch(events, object_ids=[companies_object_id])
        if not changes:
            return
        attributes = await self.client.workspace.attributes("objects", COMPANIES)
        slugs = {rule.target for rule in two_way_rules(self.mapping)}
        watched = {a["id"]["attribute_id"] for a in attributes if a.get("api_slug") in slugs}
        for change in changes:
            # A created record, or an update whose attributes are unknown, may touch them.
            touched = not change.attribute_ids or watched.intersection(change.attribute_ids)
            if not (touched or change.created):
                self.report.skipped["no two-way attribute changed"] += 1
                continue
            try:
                await self.company_changed(change.record_id)
            except Exception as exc:  # one company's failure does not stop the others
                self.report.errors.append(f"write-back of company {change.record_id}: {exc}")

    async def company_changed(self, record_id: str) -> None:
        import pandas as pd

        with self.engine.connect() as connection:
            company = store.synced_company(connection, SYNC_NAME, record_id)
        if company is None:
            self.report.skipped["not synced from Salesforce"] += 1
            return
        try:
            record = await self.client.records.get(COMPANIES, record_id)
        except AttioError as exc:
            if exc.status_code != 404:
                raise
            self.report.skipped["gone from Attio"] += 1
            return
        account = await self._mapped_account(company.source_id)
        if account is None or account[IS_DELETED]:
            self.report.skipped["account gone from Salesforce"] += 1
            return
        decisions = decide_fields(
            self.mapping,
            baseline=company.baseline,
            attio=attio_side(record, self.mapping),
            salesforce=baseline_values(account, self.mapping),
            salesforce_changed_at=pd.Timestamp(account[MODIFIED_AT]).to_pydatetime(),
        )
        for d in decisions:
            self.report.decisions.append(
                (record_id, company.source_id, d.target, d.action, d.reason)
            )
        self._record_conflicts(company.source_id, record_id, decisions)
        accepted, new_hash = await self._to_salesforce(company, account, decisions)
        if not accepted:
            return  # Salesforce refused the values: recorded; the baseline stays as it was
        await self._to_attio(record_id, decisions)
        agreed = {d.target: d.agreed for d in decisions}
        with self.engine.begin() as connection:
            store.settle_baseline(
                connection,
                SYNC_NAME,
                company.source_id,
                record_id,
                agreed,
                row_hash=new_hash,
            )
            moved = [d for d in decisions if d.action != "none"]
            if moved:
                store.log_write_back(
                    connection,
                    run_id=self.run_id,
                    sync_name=SYNC_NAME,
                    source_id=company.source_id,
                    status="ok",
                    message="; ".join(f"{d.target}: {d.reason}" for d in moved),
                    payload={d.target: d.agreed for d in moved},
                )

    async def _mapped_account(self, account_id: str) -> dict[str, Any] | None:
        """The account as it is now, mapped into Attio's form (None when Salesforce lacks it)."""
        import pandas as pd

        query = select_query(
            "Account", self.mapping.source_fields, where=f"Id = {soql_string(account_id)}"
        )

        def read() -> list[dict[str, Any]]:
            return [r for page in self.salesforce.query(query, include_deleted=True) for r in page]

        rows = await asyncio.to_thread(read)
        if not rows:
            return None
        return map_accounts(pd.DataFrame(rows), self.mapping).iloc[0].to_dict()

    async def _to_salesforce(
        self, company: store.SyncedCompany, account: dict[str, Any], decisions: list[FieldDecision]
    ) -> tuple[bool, str | None]:
        """PATCH the account with what Attio changed: whether Salesforce took the values, and
        the account's new row hash when it held nothing else the sync had yet to carry."""
        rules = {rule.target: rule for rule in two_way_rules(self.mapping)}
        fields = {
            d.source: salesforce_value(rules[d.target], d.attio)
            for d in decisions
            if d.action == "to_salesforce"
        }
        if not fields:
            return True, None
        try:
            await asyncio.to_thread(self.salesforce.update_account, company.source_id, fields)
        except SalesforceApiError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            message = f"Salesforce refused {sorted(fields)}: {exc}"
            self.report.rejected.append(f"{company.source_id}: {message}")
            with self.engine.begin() as connection:
                store.log_write_back(
                    connection,
                    run_id=self.run_id,
                    sync_name=SYNC_NAME,
                    source_id=company.source_id,
                    status="rejected",
                    message=message,
                    payload=fields,
                )
            return False, None
        self.report.salesforce_patches += 1
        if self.log is not None:
            self.log.info(f"wrote {sorted(fields)} back to Salesforce account {company.source_id}")
        if company.row_hash is None or company.row_hash != account[ROW_HASH]:
            return True, None  # Salesforce has other changes for the sync to carry: keep its hash
        after = await self._mapped_account(company.source_id)
        return True, (str(after[ROW_HASH]) if after is not None else None)

    async def _to_attio(self, record_id: str, decisions: list[FieldDecision]) -> None:
        values = {
            d.target: ([] if d.salesforce is None else d.salesforce)
            for d in decisions
            if d.action == "to_attio"
        }
        if values:
            await self.client.records.update(COMPANIES, record_id, values)
            self.report.attio_writes += 1

    def _record_conflicts(
        self, source_id: str, record_id: str, decisions: list[FieldDecision]
    ) -> None:
        conflicts = [d for d in decisions if d.conflict and d.winner is not None]
        if not conflicts:
            return
        with self.engine.begin() as connection:
            for d in conflicts:
                new = store.record_conflict(
                    connection,
                    {
                        "key": store.conflict_key(
                            source_id, d.target, d.base, d.attio, d.salesforce
                        ),
                        "sync_name": SYNC_NAME,
                        "source_id": source_id,
                        "attio_record_id": record_id,
                        "attribute": d.target,
                        "source_field": d.source,
                        "base_value": d.base,
                        "attio_value": d.attio,
                        "salesforce_value": d.salesforce,
                        "attio_changed_at": d.attio_changed_at,
                        "salesforce_changed_at": d.salesforce_changed_at,
                        "winner": d.winner,
                        "reason": d.reason,
                        "run_id": self.run_id,
                    },
                )
                self.report.conflicts += int(new)
