"""Attio webhook events: the Attio flow's edge, claimed from the webhook inbox per run.

`attio_events` hands its batch to `services/attio_events/batch.py` (parse, deduplicate, route
each event type to its handler, write two-way changes back to Salesforce) and reports what
happened; `attio_inbox_done`, the job's last step, marks the rows done. Rows stay in the inbox
for good.
"""

from typing import Any

import dagster as dg

from revops_pipelines.assets.heartbeat import RunHeartbeat
from revops_pipelines.assets.inbox import (
    WEBHOOK_INBOX,
    InboxBatchConfig,
    check_result_of,
    failed_rows_check,
    inbox_run,
    settled_result,
)
from revops_pipelines.assets.leads import ROUTING
from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.markdown import md_table
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.infra.breaker import breaker_states
from revops_pipelines.infra.rate_budget import INTERACTIVE, budget_states
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.batch import ATTIO_SOURCES, handle_attio_events
from revops_pipelines.services.attio_events.handlers import HandlingReport
from revops_pipelines.services.two_way import WriteBackReport
from revops_pipelines.store.resource import RevopsDatabase

DEALS_CONFIG = load_model(config_path("deals.yaml"), DealNotificationConfig)
# A bad rule fails definition loading (`dg check defs`) with the file and the line.
PIPELINES_CONFIG = load_model(config_path("pipelines.yaml"), PipelineRules)

__all__ = ["ATTIO_SOURCES", "attio_events", "attio_inbox_done", "defs", "no_failed_attio_rows"]


@dg.asset(
    deps=[WEBHOOK_INBOX],
    group_name="attio_events",
    kinds={"attio", "slack", "salesforce"},
    pool="attio_api",
)
async def attio_events(
    context: dg.AssetExecutionContext,
    config: InboxBatchConfig,
    database: RevopsDatabase,
    attio: AttioResource,
    slack: SlackResource,
    salesforce: SalesforceResource,
    run_heartbeat: RunHeartbeat,  # beats while the run holds the rows it claims here
) -> dg.MaterializeResult:
    """Attio webhook events claimed from the inbox for this run, parsed from every delivery's
    `events[]`, deduplicated (per-attribute `record.updated` events and redeliveries of one
    change become one normalized event listing the changed attributes, actors and inbox rows)
    and handled: each type through the dispatch table to its handler; unknown types are
    counted and skipped. Deal notifications follow `config/deals.yaml`; list-entry stage
    changes fire the pipeline rules of `config/pipelines.yaml`, once per transition. Changes
    to the fields `config/field_mapping.yaml` marks `two_way` on synced companies are written
    back to the Salesforce account (last write wins, or the configured `conflict_winner`);
    conflicts go to the `sync_conflicts` table.

    Deliveries that cannot be parsed are quarantined with the reason (listed in the metadata).
    A failed deal notification fails the run after every other event was handled.
    """
    caches = attio.cache_snapshot()
    async with attio.client(priority=INTERACTIVE) as client:
        batch = await handle_attio_events(
            client,
            database.engine(),
            inbox_run(context, database),
            slack=slack,
            salesforce=salesforce,
            deals=DEALS_CONFIG,
            mapping=FIELD_MAPPING,
            ids=config.inbox_ids,
            limit=config.limit,
            log=context.log,
            pipelines=PIPELINES_CONFIG,
            routing=ROUTING,
        )
    report, back = batch.handling, batch.write_back
    if batch.errors:
        raise dg.Failure(
            f"{len(batch.errors)} Attio event(s) failed: " + "; ".join(batch.errors),
            metadata={**_handling_metadata(report), **_write_back_metadata(back)},
        )
    return dg.MaterializeResult(
        value=batch.normalized,
        metadata={
            "deliveries": batch.deliveries,
            "events": len(batch.events),
            "unique_events": len(batch.normalized),
            "system_only_events": sum(e.system_only for e in batch.normalized),
            "quarantined": len(batch.quarantined),
            "by_event_type": dg.MetadataValue.md(
                md_table(["event type", "count"], sorted(batch.by_type.items()))
            ),
            "quarantined_rows": dg.MetadataValue.md(
                md_table(["inbox id", "event id", "reason"], batch.quarantined)
            ),
            "circuit_breakers": dg.MetadataValue.json(breaker_states(attio, slack)),
            "rate_budgets": dg.MetadataValue.json(budget_states(attio, slack)),
            **_handling_metadata(report),
            **_write_back_metadata(back, batch.write_back_problem),
            **attio.cache_metadata(caches),
            "record_cache_evicted_by_webhooks": report.cache_evicted,
        },
    )


def _write_back_metadata(
    report: WriteBackReport | None, problem: str | None = None
) -> dict[str, Any]:
    if report is None:
        return {"write_back": f"off: {problem or 'Salesforce is not configured'}"}
    return {
        "write_back": "on",
        "salesforce_patches": report.salesforce_patches,
        "attio_write_backs": report.attio_writes,
        "two_way_conflicts": report.conflicts,
        "write_back_rejected": len(report.rejected),
        "write_back_decisions": dg.MetadataValue.md(
            md_table(["company", "account", "attribute", "action", "reason"], report.decisions[:50])
        ),
        "write_back_skipped": dg.MetadataValue.md(
            md_table(["reason", "companies"], sorted(report.skipped.items()))
        ),
    }


def _handling_metadata(report: HandlingReport) -> dict[str, Any]:
    return {
        "handled": sum(report.handled.values()),
        "handled_by_handler": dg.MetadataValue.md(
            md_table(["handler", "events"], sorted(report.handled.items()))
        ),
        "skipped_unknown": sum(report.skipped_unknown.values()),
        "skipped_unknown_types": dg.MetadataValue.md(
            md_table(["event type", "count"], sorted(report.skipped_unknown.items()))
        ),
        "records_fetched": report.records_fetched,
        "notifications_sent": report.notifications_sent,
        "notifications": dg.MetadataValue.md(
            md_table(["deal", "kind", "status", "detail"], report.notifications)
        ),
        "id_map_repointed": report.id_map_repointed,
        "id_map_forgotten": report.id_map_forgotten,
        "pipeline_entries_fetched": report.pipelines.entries_fetched,
        "pipeline_transitions": report.pipelines.transitions,
        "pipeline_actions_done": report.pipelines.actions_done,
        "pipeline_actions": dg.MetadataValue.md(
            md_table(["entry", "rule", "action", "status", "detail"], report.pipelines.actions)
        ),
        "pipeline_skipped": dg.MetadataValue.md(
            md_table(["reason", "count"], sorted(report.pipelines.skipped.items()))
        ),
        "first_touches": len(report.activity.first_touches),
        "first_touch_details": dg.MetadataValue.md(
            md_table(["person", "lead", "seconds from webhook"], report.activity.first_touches[:50])
        ),
        "last_activity_writes": len(report.activity.activity_writes),
        "activity_skipped": dg.MetadataValue.md(
            md_table(["reason", "count"], sorted(report.activity.skipped.items()))
        ),
    }


@dg.asset(deps=[attio_events], group_name="attio_events", kinds={"python"})
def attio_inbox_done(
    context: dg.AssetExecutionContext, database: RevopsDatabase
) -> dg.MaterializeResult:
    """The last step of `attio_events_job`: marks done the inbox rows this run still holds.

    Event handlers added later go upstream of it (in its `deps`), so rows are done only when the
    whole run succeeded; rows of a failed run return to pending.
    """
    return settled_result(inbox_run(context, database).settle(ATTIO_SOURCES))


@dg.asset_check(asset=WEBHOOK_INBOX.key, name="no_failed_attio_rows")
def no_failed_attio_rows(database: RevopsDatabase) -> dg.AssetCheckResult:
    """No Attio inbox row has used up its attempts (failed rows are listed)."""
    return check_result_of(
        failed_rows_check(database.engine(), ATTIO_SOURCES, "no_failed_attio_rows")
    )


defs = dg.Definitions(assets=[attio_events, attio_inbox_done], asset_checks=[no_failed_attio_rows])
