#!/usr/bin/env sh
# Per-pool limits of the Dagster instance. Dagster 1.13's dagster.yaml holds only the pools'
# default limit and granularity; a named pool's limit is instance state (a row in the event log
# storage), set with `dagster instance concurrency set` or in the UI. Run this once against each
# instance (DAGSTER_HOME and DAGSTER_POSTGRES_URL set as for the daemon), and again after editing
# a limit; it is idempotent. `DAGSTER=/path/to/dagster deploy/set_pools.sh` picks the CLI.
#
# Pools bound concurrency (processes, connections), not rates: every client draws from its
# credential's rate budget shared by all runs and machines (infra/rate_budget.py, in Redis when
# REDIS_URL is set, else in the store's database), so several steps may hold slots at once and
# still stay inside the API's documented limits together.
set -eu
DAGSTER="${DAGSTER:-dagster}"

set_pool() {
  "$DAGSTER" instance concurrency set "$1" "$2"
}

# Attio: 25 writes/s and 100 reads/s for the whole workspace (attio-api.md 5.1), kept by the
# shared budget: lead and event steps draw first (interactive), syncs and usage take what is
# left (bulk). Used by every step that writes Attio: attio_companies, attio_people,
# routed_leads, lead_follow_ups, attio_events, product_usage. Six slots: the bulk flows hold at
# most three at once (one sync, one usage day, one backfill run; dagster.yaml's run limits), so a
# lead's step never waits for a sync's slot.
set_pool attio_api 6

# The pools below are not declared by any asset yet; their limits are in place for the step that
# adopts them (`pool="salesforce_api"` etc.), so it is bounded from its first run.
# Salesforce: a daily org-wide request allowance and a cap on concurrent long-running requests
# (ConcurrentPerOrgLongTxn) shared with the org's other integrations. Two readers at once.
set_pool salesforce_api 2
# Slack: chat.postMessage about 1 message/s per channel (the shared budget keeps it per channel).
set_pool slack_api 2
# Outreach: 10,000 requests per hour per user, resetting on the hour (the shared budget keeps it).
set_pool outreach_api 2
