"""Run one company sync batch: read the last state, plan, write to Attio, record outcomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from revops_pipelines.domain.company_drift import Reconciliation, reconcile
from revops_pipelines.domain.company_mapping import (
    IS_DELETED,
    REJECT_REASON,
    SOURCE_ID,
    attio_values,
)
from revops_pipelines.domain.company_sync import CompanyAction, plan_company_sync
from revops_pipelines.domain.field_mapping import FieldMapping, mapping_problems
from revops_pipelines.infra.rate_budget import BULK
from revops_pipelines.resources.attio import AttioClient, AttioResource
from revops_pipelines.services.company_sync.writer import (
    outcome_without_write,
    write_company_actions,
)
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.sync_records import (
    SyncOutcome,
    load_record_ids,
    load_state,
    outside_domain_owners,
    record_outcomes,
)

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

SYNC_NAME = "salesforce_accounts_to_attio_companies"


class MappingMismatch(ValueError):
    """The field mapping asks Attio for attributes or options its workspace does not have."""


FLUSH_EVERY = 100


@dataclass
class CompanySyncResult:
    rows: int
    unchanged: int
    counts: dict[str, int]
    planned: list[CompanyAction]
    outcomes: list[SyncOutcome] = field(default_factory=list)
    dry_run: bool = False
    reconciliation: Reconciliation | None = None

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "error")

    @property
    def unreported_conflicts(self) -> int:
        reported = {o.source_id for o in self.outcomes if o.status == "conflict"}
        conflicts = {a.source_id for a in self.planned if a.operation == "conflict"}
        return 0 if self.dry_run else len(conflicts - reported)


class _OutcomeRecorder:
    """Writes outcomes to the store in small transactions as they arrive."""

    def __init__(self, engine: sa.Engine, run_id: str) -> None:
        self.engine = engine
        self.run_id = run_id
        self.pending: list[SyncOutcome] = []
        self.all: list[SyncOutcome] = []

    def __call__(self, outcome: SyncOutcome) -> None:
        self.pending.append(outcome)
        self.all.append(outcome)
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with self.engine.begin() as connection:
            record_outcomes(
                connection,
                run_id=self.run_id,
                sync_name=SYNC_NAME,
                system="salesforce",
                external_object="Account",
                attio_object="companies",
                outcomes=self.pending,
            )
        self.pending = []


async def run_company_sync(
    mapped: pd.DataFrame,
    mapping: FieldMapping,
    *,
    attio: AttioResource,
    database: RevopsDatabase,
    run_id: str,
    dry_run: bool = False,
    full: bool = False,
    log: Any = None,
) -> CompanySyncResult:
    """`sync_companies` over a client of `attio` and the store of `database`."""
    async with attio.client(priority=BULK) as client:  # a sync takes what leads leave
        return await sync_companies(
            client,
            database.engine(),
            mapped,
            mapping,
            run_id=run_id,
            dry_run=dry_run,
            full=full,
            log=log,
        )


async def sync_companies(
    client: AttioClient,
    engine: sa.Engine,
    mapped: pd.DataFrame,
    mapping: FieldMapping,
    *,
    run_id: str,
    dry_run: bool = False,
    full: bool = False,
    log: Any = None,
) -> CompanySyncResult:
    """Check the mapping against Attio, plan against the last state, write what changed (or,
    in a full sync, also what drifted in Attio) and record every outcome under `run_id`."""
    logger = log or logging.getLogger("revops.sync")
    await check_mapping_against_attio(mapping, client)
    ids = mapped[SOURCE_ID].astype(str).tolist()
    domains = mapped["domains"].dropna().astype(str).tolist()
    with engine.connect() as connection:
        state = load_state(connection, SYNC_NAME, ids)
        record_ids = load_record_ids(connection, "salesforce", "Account", ids)
        owners = outside_domain_owners(connection, SYNC_NAME, domains, ids)
    rewrite: dict[str, str] = {}
    reconciliation = None
    if full:
        reconciliation = await _reconcile_with_attio(mapped, mapping, client, record_ids)
        rewrite = {sid: "missing in Attio" for sid in reconciliation.missing}
        rewrite |= {sid: f"drift: {', '.join(a)}" for sid, a in reconciliation.drifted.items()}
    plan = plan_company_sync(mapped, state, record_ids, owners, mapping, rewrite=rewrite)
    result = CompanySyncResult(
        rows=len(mapped),
        unchanged=plan.unchanged,
        counts=plan.counts(),
        planned=plan.actions,
        dry_run=dry_run,
        reconciliation=reconciliation,
    )
    logger.info(f"company sync plan for {len(mapped)} rows: {result.counts}")
    if dry_run:
        return result
    recorder = _OutcomeRecorder(engine, run_id)
    for action in plan.actions:
        outcome = outcome_without_write(action)
        if outcome is not None:
            recorder(outcome)
    writes = plan.writes
    if writes:
        try:
            await write_company_actions(client, writes, recorder)
        finally:
            recorder.flush()
    recorder.flush()
    result.outcomes = recorder.all
    return result


async def _reconcile_with_attio(
    mapped: pd.DataFrame, mapping: FieldMapping, client: AttioClient, record_ids: dict[str, str]
) -> Reconciliation:
    """Page through every Attio company and compare it with what the accounts map to."""
    import pandas as pd

    live = mapped[mapped[REJECT_REASON].isna() & ~mapped[IS_DELETED]]
    expected = {
        str(row[SOURCE_ID]): attio_values(
            {k: (None if pd.isna(v) else v) for k, v in row.items()}, mapping
        )
        for row in live.to_dict("records")
    }
    companies = await client.records.query_all("companies")
    known = set(mapped[SOURCE_ID].astype(str))
    return reconcile(expected, known, record_ids, companies, mapping)


async def check_mapping_against_attio(mapping: FieldMapping, client: AttioClient) -> None:
    """Fail before any write when the mapping names what the workspace lacks."""
    attributes = await client.workspace.attributes("objects", mapping.target_object)
    present = {a.get("api_slug") for a in attributes}
    options = {
        rule.target: await client.workspace.select_options(
            "objects", mapping.target_object, rule.target
        )
        for rule in mapping.fields
        if rule.transform == "select" and rule.target in present
    }
    problems = mapping_problems(mapping, attributes, options)
    if problems:
        raise MappingMismatch(
            "config/field_mapping.yaml does not fit the Attio workspace: " + "; ".join(problems)
        )
