"""Jobs of the code location: the inbox jobs, the Salesforce syncs and the daily usage rollup.

`inbound_leads_job` and `attio_events_job` are launched by the inbox sensors with one batch of
inbox rows each (run config `InboxBatchConfig` on their claiming asset). Each ends with a step that
marks the run's rows done; steps added to a job go upstream of that step (in its `deps`).

The inbox jobs run every step in the run's own process (`in_process_executor`): a lead waits for
its rep, and the multiprocess executor starts a fresh interpreter per step that imports the code
location again (seconds per step on a small machine, measured in benchmarks/bench_speed_to_lead.py).
Their steps are a chain with nothing to run in parallel; a step's crash fails the whole run, whose
rows the inbox failure sensor hands back. The sync and usage jobs keep the default executor.
"""

import dagster as dg

from revops_pipelines.assets.attio_events import (
    attio_events,
    attio_inbox_done,
    no_failed_attio_rows,
)
from revops_pipelines.assets.forms import form_inbox_done, form_submissions, no_failed_form_rows
from revops_pipelines.assets.leads import LEAD_ASSETS
from revops_pipelines.assets.usage import no_stuck_segment_rows, product_usage
from revops_pipelines.infra.settings import load_settings
from revops_pipelines.services import inbox as inbox_service
from revops_pipelines.store.resource import RevopsDatabase

# The asset that claims a job's inbox batch: sensors put the batch's ids in its run config.
CLAIMING_ASSET = {"inbound_leads_job": "form_submissions", "attio_events_job": "attio_events"}
# Latency-sensitive: one process per run, not one per step (module docstring), unless the
# deployment lets the location's executor (e.g. Celery) take the inbox steps too.
INBOX_EXECUTOR = dg.in_process_executor if load_settings().inbox_executor == "in_process" else None

inbound_leads_job = dg.define_asset_job(
    name="inbound_leads_job",
    description="Form submissions from the webhook inbox, one batch per run, to the lead flow.",
    selection=dg.AssetSelection.assets(form_submissions, *LEAD_ASSETS, form_inbox_done)
    | dg.AssetSelection.checks(no_failed_form_rows),
    tags={"revops/flow": "inbound_leads"},
    executor_def=INBOX_EXECUTOR,
)

attio_events_job = dg.define_asset_job(
    name="attio_events_job",
    description="Attio webhook events from the inbox, one batch per run: parsed and deduplicated.",
    selection=dg.AssetSelection.assets(attio_events, attio_inbox_done)
    | dg.AssetSelection.checks(no_failed_attio_rows),
    tags={"revops/flow": "attio_events"},
    executor_def=INBOX_EXECUTOR,
)

INBOX_JOBS = (inbound_leads_job, attio_events_job)

salesforce_incremental_sync_job = dg.define_asset_job(
    name="salesforce_incremental_sync_job",
    description="Salesforce accounts modified in the partitions' days -> Attio companies.",
    selection=dg.AssetSelection.groups("salesforce_sync"),
    tags={"revops/flow": "salesforce_sync"},
)

# Also the weekly schedule's run config: a run request that names no partition key (the full
# sync's days are a range, in tags) runs with its own run config, not the job's.
FULL_SYNC_RUN_CONFIG = {
    "ops": {
        "salesforce_accounts": {"config": {"method": "auto"}},
        "attio_companies": {"config": {"full": True}},
    }
}

salesforce_full_sync_job = dg.define_asset_job(
    name="salesforce_full_sync_job",
    description=(
        "Every account over every day in one run: repairs drift in Attio, reports orphan "
        "companies, applies the configured handling of deleted accounts."
    ),
    selection=dg.AssetSelection.groups("salesforce_sync"),
    config=FULL_SYNC_RUN_CONFIG,
    tags={"revops/flow": "salesforce_sync", "revops/full_sync": "true"},
)

SYNC_JOBS = (salesforce_incremental_sync_job, salesforce_full_sync_job)

product_usage_job = dg.define_asset_job(
    name="product_usage_job",
    description="Segment track events of a day rolled up into Attio usage attributes.",
    selection=dg.AssetSelection.assets(product_usage)
    | dg.AssetSelection.checks(no_stuck_segment_rows),
    tags={"revops/flow": "product_usage"},
)


class InboxPurgeConfig(dg.Config):
    older_than: str = "30d"  # a number and h, d or w


@dg.op(description="Empties the bodies and headers of inbox rows settled before the age.")
def purge_inbox(
    context: dg.OpExecutionContext, config: InboxPurgeConfig, database: RevopsDatabase
) -> None:
    result = inbox_service.purge(database.engine(), inbox_service.parse_age(config.older_than))
    context.add_output_metadata({"rows_emptied": result.rows, "digests_removed": result.digests})


@dg.job(description="Inbox retention: `revops webhooks purge`, as a job for its schedule.")
def inbox_purge_job() -> None:
    purge_inbox()


defs = dg.Definitions(jobs=[*INBOX_JOBS, *SYNC_JOBS, product_usage_job, inbox_purge_job])
