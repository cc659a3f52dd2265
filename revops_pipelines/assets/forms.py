"""The edge of the inbound-lead flow: the webhook inbox and the form submissions claimed from it.

A run claims its batch of inbox rows under its run id (`claimed_by`), parses them, quarantines
what it cannot read, and its last step (`form_inbox_done`) marks the rest done. A failed run's rows
go back to pending through `inbox_run_failure_sensor`. The inbox helpers here are shared with the
Attio flow.
"""

import logging
from collections import Counter
from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from revops_pipelines.domain.submissions import (
    FORM_SOURCES,
    Submission,
    SubmissionParseError,
    parse_submission,
)
from revops_pipelines.infra.logs import log_fields
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import InboxRow
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
DEFAULT_BATCH_LIMIT = 100


class InboxBatchConfig(dg.Config):
    """Which inbox rows a run claims. Sensors pass the batch's ids; a manual run with no ids
    claims up to `limit` of the oldest pending rows."""

    inbox_ids: list[int] = Field(default_factory=list, description="Inbox row ids of the batch.")
    limit: int = Field(default=DEFAULT_BATCH_LIMIT, description="Most rows to claim.")


def claim_for_run(
    context: dg.AssetExecutionContext,
    engine: sa.Engine,
    sources: Sequence[str],
    config: InboxBatchConfig,
) -> list[InboxRow]:
    """Claim this run's batch under the run id (rows another run holds are skipped)."""
    ids = config.inbox_ids or None
    limit = max(len(config.inbox_ids), 1) if ids else config.limit
    rows = inbox.claim_batch(engine, sources, limit=limit, claimed_by=context.run.run_id, ids=ids)
    log_fields(
        context.log,
        logging.INFO,
        f"claimed {len(rows)} inbox rows: {[r.id for r in rows]}",
        inbox_ids=[r.id for r in rows],
    )
    return rows


def quarantine_row(
    context: dg.AssetExecutionContext, engine: sa.Engine, row: InboxRow, reason: str
) -> None:
    """Set an unreadable inbox row aside with its reason, and log it with the row's ids."""
    inbox.mark_quarantined(engine, row.id, reason, claimed_by=context.run.run_id)
    log_fields(
        context.log,
        logging.WARNING,
        f"inbox row {row.id} quarantined: {reason}",
        inbox_id=row.id,
        event_id=row.event_id,
        source=row.source,
        outcome="quarantined",
    )


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 50) -> str:
    """A small markdown table for asset metadata (cells are flattened and clipped)."""

    def cell(value: object) -> str:
        text = str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 160 else text[:159] + "…"

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | " + " | " * (len(headers) - 1))
    return "\n".join(lines) if rows else "_none_"


def settle_run_batch(
    context: dg.AssetExecutionContext, engine: sa.Engine, sources: Sequence[str]
) -> dg.MaterializeResult:
    """Mark done every row this run still holds (the last step of an inbox job)."""
    ids = inbox.claimed_ids(engine, context.run.run_id)
    done = inbox.mark_done(engine, ids, claimed_by=context.run.run_id)
    counts = inbox.count_by_status(engine, list(sources))
    return dg.MaterializeResult(
        metadata={
            "marked_done": done,
            "inbox_ids": dg.MetadataValue.text(", ".join(map(str, ids)) or "none"),
            **{f"inbox_{status}": n for status, n in counts.items()},
        }
    )


def failed_rows_check(
    engine: sa.Engine, sources: Sequence[str], check_name: str
) -> dg.AssetCheckEvaluation:
    """Rows that used up their attempts: the check fails (WARN) and lists them."""
    failed = inbox.rows_with_status(engine, "failed", sources=list(sources), limit=50)
    counts = inbox.count_by_status(engine, list(sources))
    table = md_table(
        ["id", "source", "event_id", "attempts", "last_error"],
        [(r.id, r.source, r.event_id, r.attempts, r.last_error) for r in failed],
    )
    return dg.AssetCheckEvaluation(
        asset_key=WEBHOOK_INBOX.key,
        check_name=check_name,
        passed=counts["failed"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": counts["failed"],
            "quarantined": counts["quarantined"],
            "pending": counts["pending"],
            "failed_rows": dg.MetadataValue.md(table),
        },
    )


def check_result_of(evaluation: dg.AssetCheckEvaluation) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        metadata=evaluation.metadata,
    )


@dg.asset(deps=[WEBHOOK_INBOX], group_name="inbound_leads", kinds={"python"})
def form_submissions(
    context: dg.AssetExecutionContext, config: InboxBatchConfig, database: RevopsDatabase
) -> dg.MaterializeResult:
    """Form submissions (Typeform, Tally) claimed from the webhook inbox for this run, parsed into
    one shape: email, name, company, message, source form, submitted at, raw reference.

    Unparseable rows are quarantined in the inbox with the reason (listed in this materialization's
    metadata) and never retried automatically; `revops webhooks requeue` puts them back.
    """
    engine = database.engine()
    rows = claim_for_run(context, engine, FORM_SOURCES, config)
    submissions: list[Submission] = []
    quarantined: list[tuple[int, str, str, str]] = []
    for row in rows:
        try:
            submissions.append(
                parse_submission(
                    row.source,
                    row.body,
                    raw_ref=row.ref,
                    event_id=row.event_id,
                    received_at=row.received_at,
                )
            )
        except SubmissionParseError as exc:
            quarantine_row(context, engine, row, str(exc))
            quarantined.append((row.id, row.source, row.event_id, str(exc)))
    by_source = Counter(s.source for s in submissions)
    return dg.MaterializeResult(
        value=submissions,
        metadata={
            "claimed": len(rows),
            "parsed": len(submissions),
            "quarantined": len(quarantined),
            **{f"parsed_{source}": by_source.get(source, 0) for source in FORM_SOURCES},
            "quarantined_rows": dg.MetadataValue.md(
                md_table(["inbox id", "source", "event id", "reason"], quarantined)
            ),
            "submissions": dg.MetadataValue.md(
                md_table(
                    ["ref", "source", "form", "email", "company", "submitted at"],
                    [
                        (s.raw_ref, s.source, s.source_form, s.email, s.company, s.submitted_at)
                        for s in submissions
                    ],
                    limit=20,
                )
            ),
        },
    )


# The lead flow's last step, by key (assets/leads.py imports this module).
LAST_LEAD_STEP = dg.AssetKey("lead_follow_ups")


@dg.asset(deps=[form_submissions, LAST_LEAD_STEP], group_name="inbound_leads", kinds={"python"})
def form_inbox_done(
    context: dg.AssetExecutionContext, database: RevopsDatabase
) -> dg.MaterializeResult:
    """The last step of `inbound_leads_job`: marks done the inbox rows this run still holds.

    It must stay downstream of every other step of the job (new lead steps go in its `deps`), so a
    row is done only when the whole run succeeded; rows of a failed run return to pending.
    """
    return settle_run_batch(context, database.engine(), FORM_SOURCES)


@dg.asset_check(asset=WEBHOOK_INBOX.key, name="no_failed_form_rows")
def no_failed_form_rows(database: RevopsDatabase) -> dg.AssetCheckResult:
    """No Typeform or Tally inbox row has used up its attempts (failed rows are listed)."""
    return check_result_of(
        failed_rows_check(database.engine(), FORM_SOURCES, "no_failed_form_rows")
    )
