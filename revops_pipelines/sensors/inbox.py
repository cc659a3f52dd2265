"""Inbox sensors: new webhook rows become runs, failed runs give their rows back.

Each tick of `form_inbox_sensor` / `attio_inbox_sensor` does a few bounded, indexed queries and no
network work:
1. hand back the rows of runs that can no longer settle them: ended without handing them back,
   not started, or unknown to the instance (`sensors/dead_runs.py`; a run that died silently is
   marked failed there by `run_heartbeat_sensor` first, and the failure sensor hands back);
2. release claims older than the claim timeout (the last backstop: a run that never ends);
3. plan batches of pending rows above the cursor (the highest inbox id seen), run key
   `<flow>-<first id>-<last id>`;
4. plan retry batches of pending rows at or below the cursor left idle for `RETRY_AFTER` (released
   by a failed run, or never claimed by the run requested for them), run key
   `<flow>-retry-<first>-<last>-<digest of ids and attempts>`: a new attempt gives a new key, and
   the same idle rows give the same key, so the daemon does not launch them twice;
5. report the flow's failed rows as an asset check evaluation when their number changes.
`inbox_run_failure_sensor` and `inbox_run_canceled_sensor` release a finished run's claimed rows
(one attempt charged; failed after `MAX_ATTEMPTS`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from revops_pipelines.assets.attio_events import no_failed_attio_rows
from revops_pipelines.assets.forms import no_failed_form_rows
from revops_pipelines.assets.inbox import failed_rows_check
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.jobs import CLAIMING_ASSET, INBOX_JOBS, attio_events_job, inbound_leads_job
from revops_pipelines.sensors.dead_runs import hand_back_orphaned_claims
from revops_pipelines.services import inbox as inbox_service
from revops_pipelines.services.attio_events.batch import ATTIO_SOURCES
from revops_pipelines.services.inbox import PendingRef, ReleaseResult
from revops_pipelines.store.resource import RevopsDatabase

BATCH_SIZE = 100
MAX_BATCHES_PER_TICK = 5
RETRY_AFTER = timedelta(minutes=5)
CLAIM_TIMEOUT = timedelta(hours=1)
MAX_ATTEMPTS = inbox_service.MAX_ATTEMPTS
# The daemon evaluates sensors at most once per ~5 s loop (a constant in Dagster 1.13), so 5 s
# is the shortest interval that means anything. A tick is a few indexed queries (above).
TICK_INTERVAL_SECONDS = 5


@dataclass(frozen=True)
class InboxFlow:
    name: str  # run key prefix
    sensor_name: str
    sources: tuple[str, ...]
    job_name: str
    check_name: str

    @property
    def claiming_asset(self) -> str:
        return CLAIMING_ASSET[self.job_name]


FORMS = InboxFlow(
    "forms",
    "form_inbox_sensor",
    FORM_SOURCES,
    inbound_leads_job.name,
    no_failed_form_rows.check_key.name,
)
ATTIO = InboxFlow(
    "attio",
    "attio_inbox_sensor",
    ATTIO_SOURCES,
    attio_events_job.name,
    no_failed_attio_rows.check_key.name,
)


@dataclass(frozen=True)
class InboxCursor:
    last_id: int = 0  # highest inbox id already handed to a run
    failed: int | None = None  # failed-row count last reported

    @classmethod
    def parse(cls, raw: str | None) -> InboxCursor:
        if not raw:
            return cls()
        if raw.strip().isdigit():
            return cls(last_id=int(raw))
        data = json.loads(raw)
        return cls(last_id=int(data.get("last_id", 0)), failed=data.get("failed"))

    def dump(self) -> str:
        return json.dumps({"last_id": self.last_id, "failed": self.failed}, sort_keys=True)


@dataclass(frozen=True)
class TickPlan:
    run_requests: list[dg.RunRequest]
    cursor: InboxCursor
    released: ReleaseResult
    check: dg.AssetCheckEvaluation | None


def _chunks(refs: Sequence[PendingRef], size: int) -> list[list[PendingRef]]:
    return [list(refs[i : i + size]) for i in range(0, len(refs), size)]


def _request(flow: InboxFlow, refs: list[PendingRef], key: str) -> dg.RunRequest:
    ids = [r.id for r in refs]
    return dg.RunRequest(
        run_key=key,
        run_config={
            "ops": {flow.claiming_asset: {"config": {"inbox_ids": ids, "limit": len(ids)}}}
        },
        tags={"revops/inbox_batch": key, "revops/inbox_rows": str(len(ids))},
    )


def new_batch_key(flow: InboxFlow, refs: Sequence[PendingRef]) -> str:
    return f"{flow.name}-{refs[0].id}-{refs[-1].id}"


def retry_batch_key(flow: InboxFlow, refs: Sequence[PendingRef]) -> str:
    state = ",".join(f"{r.id}:{r.attempts}" for r in refs)
    digest = hashlib.sha256(state.encode()).hexdigest()[:10]
    return f"{flow.name}-retry-{refs[0].id}-{refs[-1].id}-{digest}"


def plan_tick(
    engine: sa.Engine,
    flow: InboxFlow,
    cursor: InboxCursor,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES_PER_TICK,
    retry_after: timedelta = RETRY_AFTER,
    claim_timeout: timedelta = CLAIM_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
) -> TickPlan:
    """One tick's work for `flow`: bounded SQL only (at most `batch_size * max_batches` rows)."""
    work = inbox_service.plan_batches(
        engine,
        flow.sources,
        after_id=cursor.last_id,
        budget=batch_size * max_batches,
        retry_after=retry_after,
        claim_timeout=claim_timeout,
        max_attempts=max_attempts,
        now=now,
    )
    requests = [_request(flow, b, new_batch_key(flow, b)) for b in _chunks(work.fresh, batch_size)]
    requests += [
        _request(flow, b, retry_batch_key(flow, b)) for b in _chunks(work.retry, batch_size)
    ]
    last_id = work.fresh[-1].id if work.fresh else cursor.last_id
    check = None
    if work.failed != cursor.failed:
        check = failed_rows_check(engine, flow.sources, flow.check_name)
    return TickPlan(
        requests, InboxCursor(last_id=last_id, failed=work.failed), work.released, check
    )


def build_inbox_sensor(
    flow: InboxFlow, job: dg.UnresolvedAssetJobDefinition, description: str
) -> dg.SensorDefinition:
    @dg.sensor(
        name=flow.sensor_name,
        job=job,
        minimum_interval_seconds=TICK_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, database: RevopsDatabase) -> dg.SensorResult:
        engine = database.engine()
        # Rows held by a run that ended, never started or is unknown: back within minutes.
        _, orphaned = hand_back_orphaned_claims(context.instance, engine, flow.sources)
        for reason in orphaned:
            context.log.warning(f"handed back the rows of a run that cannot settle them: {reason}")
        plan = plan_tick(
            engine,
            flow,
            InboxCursor.parse(context.cursor),
            batch_size=BATCH_SIZE,
            max_batches=MAX_BATCHES_PER_TICK,
            retry_after=RETRY_AFTER,
            claim_timeout=CLAIM_TIMEOUT,
            max_attempts=MAX_ATTEMPTS,
        )
        if plan.released.pending or plan.released.failed:
            context.log.warning(f"released stale claims: {plan.released}")
        events = [plan.check] if plan.check is not None else []
        if not plan.run_requests:
            return dg.SensorResult(
                skip_reason="no pending inbox rows", cursor=plan.cursor.dump(), asset_events=events
            )
        return dg.SensorResult(
            run_requests=plan.run_requests, cursor=plan.cursor.dump(), asset_events=events
        )

    return _sensor


form_inbox_sensor = build_inbox_sensor(
    FORMS,
    inbound_leads_job,
    "Typeform and Tally rows of the webhook inbox, in batches, to inbound_leads_job.",
)
attio_inbox_sensor = build_inbox_sensor(
    ATTIO, attio_events_job, "Attio rows of the webhook inbox, in batches, to attio_events_job."
)


def batch_ids_of(run: dg.DagsterRun) -> list[int]:
    """The inbox ids a sensor put in a run's config (empty for manual runs)."""
    asset = CLAIMING_ASSET.get(run.job_name)
    if asset is None:
        return []
    ops: dict[str, Any] = (run.run_config or {}).get("ops") or {}
    config = (ops.get(asset) or {}).get("config") or {}
    return [int(i) for i in config.get("inbox_ids") or []]


def release_run_batch(
    engine: sa.Engine, run: dg.DagsterRun, reason: str, *, max_attempts: int = MAX_ATTEMPTS
) -> ReleaseResult:
    """Give back the rows of a finished-but-unsuccessful run (`services/inbox.py`)."""
    return inbox_service.release_failed_run(
        engine,
        run.run_id,
        batch_ids_of(run),
        f"run {run.run_id} of {run.job_name} {reason}",
        max_attempts=max_attempts,
    )


@dg.run_failure_sensor(
    name="inbox_run_failure_sensor",
    monitored_jobs=list(INBOX_JOBS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Returns a failed inbox run's rows to pending (or failed after max attempts).",
)
def inbox_run_failure_sensor(context: dg.RunFailureSensorContext, database: RevopsDatabase) -> None:
    message = (context.failure_event.message or "").splitlines()[0][:300]
    result = release_run_batch(
        database.engine(), context.dagster_run, f"failed: {message}", max_attempts=MAX_ATTEMPTS
    )
    context.log.info(f"run {context.dagster_run.run_id}: released {result}")


@dg.run_status_sensor(
    name="inbox_run_canceled_sensor",
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=list(INBOX_JOBS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Returns a canceled inbox run's rows to pending (or failed after max attempts).",
)
def inbox_run_canceled_sensor(context: dg.RunStatusSensorContext, database: RevopsDatabase) -> None:
    result = release_run_batch(
        database.engine(), context.dagster_run, "was canceled", max_attempts=MAX_ATTEMPTS
    )
    context.log.info(f"run {context.dagster_run.run_id}: released {result}")


defs = dg.Definitions(
    sensors=[
        form_inbox_sensor,
        attio_inbox_sensor,
        inbox_run_failure_sensor,
        inbox_run_canceled_sensor,
    ],
)
