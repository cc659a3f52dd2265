"""The inbox edge shared by the inbox assets: the `webhook_inbox` source asset, the batch config
a sensor fills, the run's hold on its rows, the settling step's metadata and the failed-rows
check. The workflow itself is `services/inbox.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from revops_pipelines.domain.markdown import md_table
from revops_pipelines.services import inbox as inbox_service
from revops_pipelines.services.inbox import DEFAULT_BATCH_LIMIT, InboxRun, SettledBatch
from revops_pipelines.store.resource import RevopsDatabase

WEBHOOK_INBOX = dg.AssetSpec(
    "webhook_inbox",
    description=(
        "Raw webhook deliveries (Typeform, Tally, Attio, Segment) stored by the receiver "
        "(`revops webhooks serve`), unique on source + event id. Rows are claimed by runs, "
        "never deleted; failed and quarantined rows carry their last error."
    ),
    group_name="inbox",
    kinds={"sql"},
)


class InboxBatchConfig(dg.Config):
    """Which inbox rows a run claims. Sensors pass the batch's ids; a manual run with no ids
    claims up to `limit` of the oldest pending rows."""

    inbox_ids: list[int] = Field(default_factory=list, description="Inbox row ids of the batch.")
    limit: int = Field(default=DEFAULT_BATCH_LIMIT, description="Most rows to claim.")


def inbox_run(context: dg.AssetExecutionContext, database: RevopsDatabase) -> InboxRun:
    """This run's hold on its inbox rows, logging to the run's log."""
    return InboxRun(database.engine(), context.run.run_id, log=context.log)


def settled_result(settled: SettledBatch) -> dg.MaterializeResult:
    """The metadata of an inbox job's last step."""
    return dg.MaterializeResult(
        metadata={
            "marked_done": settled.done,
            "inbox_ids": dg.MetadataValue.text(", ".join(map(str, settled.ids)) or "none"),
            **{f"inbox_{status}": n for status, n in settled.counts.items()},
        }
    )


def failed_rows_check(
    engine: sa.Engine, sources: Sequence[str], check_name: str
) -> dg.AssetCheckEvaluation:
    """Rows that used up their attempts: the check fails (WARN) and lists them. Quarantined
    rows (set aside for good: unparseable, invalid, or a lead Attio refused) are listed beside
    them with their reason, for an operator to fix and requeue; they do not fail the check,
    since junk deliveries land there too."""
    columns = ["id", "source", "event_id", "attempts", "last_error"]

    def table(rows: Sequence[inbox_service.InboxRow]) -> str:
        return md_table(
            columns, [(r.id, r.source, r.event_id, r.attempts, r.last_error) for r in rows]
        )

    failed = inbox_service.failed_rows(engine, sources, limit=50)
    quarantined = inbox_service.quarantined_rows(engine, sources, limit=50)
    counts = inbox_service.status_counts(engine, sources)
    return dg.AssetCheckEvaluation(
        asset_key=WEBHOOK_INBOX.key,
        check_name=check_name,
        passed=counts["failed"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": counts["failed"],
            "quarantined": counts["quarantined"],
            "pending": counts["pending"],
            "failed_rows": dg.MetadataValue.md(table(failed)),
            "quarantined_rows": dg.MetadataValue.md(table(quarantined)),
        },
    )


def check_result_of(evaluation: dg.AssetCheckEvaluation) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        metadata=evaluation.metadata,
    )


defs = dg.Definitions(assets=[WEBHOOK_INBOX])
