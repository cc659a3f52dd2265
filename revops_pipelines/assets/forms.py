"""The edge of the inbound-lead flow: the form submissions claimed from the webhook inbox, and the
job's last step that settles the run's rows.

A run claims its batch of inbox rows under its run id, parses them and quarantines what it cannot
read (`services/leads/intake.py`); its last step (`form_inbox_done`) marks the rest done. A failed
run's rows go back to pending through `inbox_run_failure_sensor`.
"""

from collections import Counter

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
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.custom_forms import FormsConfig
from revops_pipelines.domain.markdown import md_table
from revops_pipelines.domain.personal_data import mask_email
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.services.leads.intake import claim_submissions
from revops_pipelines.store.resource import RevopsDatabase

GROUP = "inbound_leads"
# Custom forms and their field mappings; a mistake fails definition loading with the file and line.
FORMS = load_model(config_path("forms.yaml"), FormsConfig)


@dg.asset(deps=[WEBHOOK_INBOX], group_name=GROUP, kinds={"python"})
def form_submissions(
    context: dg.AssetExecutionContext,
    config: InboxBatchConfig,
    database: RevopsDatabase,
    run_heartbeat: RunHeartbeat,  # beats while the run holds the rows it claims here
) -> dg.MaterializeResult:
    """Form submissions (Typeform, Tally, HubSpot, custom forms) claimed from the webhook inbox
    for this run, parsed into one shape: email, name, company, message, source form, submitted
    at, raw reference.

    Unparseable rows are quarantined in the inbox with the reason (listed in this materialization's
    metadata) and never retried automatically; `revops webhooks requeue` puts them back.
    """
    batch = claim_submissions(
        inbox_run(context, database), config.inbox_ids, config.limit, forms=FORMS
    )
    submissions = batch.submissions
    by_source = Counter(s.source for s in submissions)
    return dg.MaterializeResult(
        value=submissions,
        metadata={
            "claimed": batch.claimed,
            "parsed": len(submissions),
            "quarantined": len(batch.quarantined),
            **{f"parsed_{source}": by_source.get(source, 0) for source in FORM_SOURCES},
            "parsed_forms": sum(n for s, n in by_source.items() if s not in FORM_SOURCES),
            "quarantined_rows": dg.MetadataValue.md(
                md_table(["inbox id", "source", "event id", "reason"], batch.quarantined)
            ),
            "submissions": dg.MetadataValue.md(
                md_table(
                    ["ref", "source", "form", "email", "company", "submitted at"],
                    [
                        (
                            s.raw_ref,
                            s.source,
                            s.source_form,
                            mask_email(s.email),
                            s.company,
                            s.submitted_at,
                        )
                        for s in submissions
                    ],
                    limit=20,
                )
            ),
        },
    )


# The lead flow's last step, by key (assets/leads.py defines it).
LAST_LEAD_STEP = dg.AssetKey("lead_follow_ups")


@dg.asset(deps=[form_submissions, LAST_LEAD_STEP], group_name=GROUP, kinds={"python"})
def form_inbox_done(
    context: dg.AssetExecutionContext, database: RevopsDatabase
) -> dg.MaterializeResult:
    """The last step of `inbound_leads_job`: marks done the inbox rows this run still holds.

    It must stay downstream of every other step of the job (new lead steps go in its `deps`), so a
    row is done only when the whole run succeeded; rows of a failed run return to pending.
    """
    return settled_result(inbox_run(context, database).settle(FORM_SOURCES))


@dg.asset_check(asset=WEBHOOK_INBOX.key, name="no_failed_form_rows")
def no_failed_form_rows(database: RevopsDatabase) -> dg.AssetCheckResult:
    """No Typeform or Tally inbox row has used up its attempts (failed rows are listed)."""
    return check_result_of(
        failed_rows_check(database.engine(), FORM_SOURCES, "no_failed_form_rows")
    )


defs = dg.Definitions(
    assets=[form_submissions, form_inbox_done], asset_checks=[no_failed_form_rows]
)
