"""The project's own tables. Alembic migrations in `store/migrations` create and evolve them.

Every table is written through SQLAlchemy Core so the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY, so BigInteger falls back to Integer there.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both engines (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value!r}: the store only takes timezone-aware values"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


INBOX_STATUSES = ("pending", "processing", "done", "failed", "quarantined")
LEDGER_STATUSES = ("started", "done", "ambiguous", "failed")

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.String(255)),
    sa.Column("claimed_at", UtcDateTime()),
    sa.Column("processed_at", UtcDateTime()),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # A handed-back row is not retried before this (exponential backoff by attempts).
    sa.Column("retry_at", UtcDateTime()),
    # Retention: when the body and headers of this settled row were dropped (the key stays, so a
    # redelivery is still a duplicate).
    sa.Column("purged_at", UtcDateTime()),
    sa.UniqueConstraint("source", "event_id"),
    sa.CheckConstraint(sa.column("status").in_(INBOX_STATUSES), name="status"),
    sa.Index(None, "status", "source", "id"),
    sa.Index(None, "source", "received_at"),  # the product-usage rollup reads a source by day
)

# The body digests of deliveries whose key the signature does not cover (Attio's Idempotency-Key):
# a captured body re-sent under a new key within the replay window is a duplicate. One row per
# (source, digest), refreshed when seen again after the window.
webhook_digests = sa.Table(
    "webhook_digests",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("seen_at", UtcDateTime(), nullable=False),
)

id_map = sa.Table(
    "id_map",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("external_object", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("attio_object", sa.String(64), nullable=False),
    sa.Column("attio_record_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("system", "external_object", "external_id"),
    sa.Index(None, "attio_object", "attio_record_id"),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("sync_name", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(255), primary_key=True),
    sa.Column("row_hash", sa.String(64)),
    sa.Column("match_key", sa.String(255)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attio_record_id", sa.String(64)),
    sa.Column("source_modified_at", UtcDateTime()),
    sa.Column("last_run_id", sa.String(64)),
    sa.Column("synced_at", UtcDateTime(), nullable=False),
    # The two-way fields' values both sides last agreed on (Attio's form), the baseline that
    # tells which side changed a field since.
    sa.Column("two_way_values", sa.JSON),
    sa.Index(None, "sync_name", "match_key"),
)

sync_log = sa.Table(
    "sync_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("sync_name", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("payload", sa.JSON),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index(None, "run_id"),
    sa.Index(None, "sync_name", "source_id"),
)

effect_ledger = sa.Table(
    "effect_ledger",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("target_ref", sa.String(255)),
    sa.Column("result", sa.JSON),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(sa.column("status").in_(LEDGER_STATUSES), name="status"),
)

routing_state = sa.Table(
    "routing_state",
    metadata,
    sa.Column("pool", sa.String(64), primary_key=True),
    sa.Column("rep", sa.String(255), primary_key=True),
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("assigned_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_sequence", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One routing decision per lead (keyed by source + event id), so a retried lead gets the same rep
# instead of a second turn; also the audit of who got what and why.
routing_assignment = sa.Table(
    "routing_assignment",
    metadata,
    sa.Column("lead_key", sa.String(255), primary_key=True),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("rep", sa.String(255), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("assigned_at", UtcDateTime(), nullable=False),
    # What the rules read for this decision (LeadFacts) and the day it counted on, so a
    # simulation replays what the live run knew; NULL for leads routed before they were kept.
    sa.Column("facts", sa.JSON),
    sa.Column("routing_day", sa.Date),
    # An SLA re-route (services/lead_sla.py): the new rep, chosen once by the pool's strategy,
    # and the turn it took in the pool (the pool's sequence, like `sequence`).
    sa.Column("rerouted_to", sa.String(255)),
    sa.Column("rerouted_at", UtcDateTime()),
    sa.Column("reroute_sequence", sa.BigInteger),
    sa.Column("reroute_reason", sa.Text),
    sa.UniqueConstraint("pool", "sequence"),
)

ENRICHMENT_STATUSES = ("found", "pending", "not_found")

# The enrichment API's last answer per company domain: found results are kept for days, pending
# and not_found ones for minutes; errors are never cached.
enrichment_cache = sa.Table(
    "enrichment_cache",
    metadata,
    sa.Column("domain", sa.String(253), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payload", sa.JSON),
    sa.Column("fetched_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(sa.column("status").in_(ENRICHMENT_STATUSES), name="status"),
)

# Product usage (flow D): what was last written to each Attio record, so an unchanged rollup is
# not written again, and an older partition never overwrites a newer one.
usage_state = sa.Table(
    "usage_state",
    metadata,
    sa.Column("object", sa.String(16), primary_key=True),
    sa.Column("record_key", sa.String(320), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("attio_record_id", sa.String(64)),
    sa.Column("last_run_id", sa.String(64)),
    sa.Column("written_at", UtcDateTime(), nullable=False),
)

CONFLICT_WINNERS = ("attio", "salesforce")

# A two-way field changed on both sides since they last agreed: what each side held, and who won.
# `key` makes recording the same conflict twice (a redelivered event, a retried run) a no-op.
sync_conflicts = sa.Table(
    "sync_conflicts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("sync_name", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("attio_record_id", sa.String(64), nullable=False),
    sa.Column("attribute", sa.String(64), nullable=False),
    sa.Column("source_field", sa.String(255), nullable=False),
    sa.Column("base_value", sa.JSON),
    sa.Column("attio_value", sa.JSON),
    sa.Column("salesforce_value", sa.JSON),
    sa.Column("attio_changed_at", UtcDateTime()),
    sa.Column("salesforce_changed_at", UtcDateTime()),
    sa.Column("winner", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("detected_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(sa.column("winner").in_(CONFLICT_WINNERS), name="winner"),
    sa.Index(None, "source_id"),
)

# The last stage seen per list entry (flow C's pipeline rules): a `list-entry.*` event is a
# transition only when the entry's current stage differs from this row, so a burst of events or a
# redelivery of one move acts once.
pipeline_stage_state = sa.Table(
    "pipeline_stage_state",
    metadata,
    sa.Column("list_id", sa.String(64), primary_key=True),
    sa.Column("entry_id", sa.String(64), primary_key=True),
    sa.Column("stage_id", sa.String(64)),
    sa.Column("stage_title", sa.String(255)),
    sa.Column("stage_since", sa.String(64)),  # the stage value's active_from, as Attio sent it
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per lead whose follow-up task was completed: when its webhook arrived and when the
# task was seen completed (flow C), i.e. the lead's time to first touch.
lead_first_touch = sa.Table(
    "lead_first_touch",
    metadata,
    sa.Column("lead_key", sa.String(255), primary_key=True),
    sa.Column("person_id", sa.String(64)),
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("webhook_at", UtcDateTime()),
    sa.Column("first_touched_at", UtcDateTime(), nullable=False),
    sa.Column("seconds_to_first_touch", sa.Float),
)

# One row per running run that beats (services/run_heartbeat.py): refreshed every few seconds
# while the run's process lives and deleted when it ends, so a row that stopped changing is a run
# whose process died without telling Dagster (sensors/dead_runs.py marks it failed).
run_heartbeats = sa.Table(
    "run_heartbeats",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("beat_at", UtcDateTime(), nullable=False),
    sa.Index(None, "beat_at"),  # the sensor reads the stale ones
)

# The shared rate budgets when Redis is not configured (store/rate_budget.py): per budget key
# (an API credential's kind), the row its admissions lock, with its 429 pause and the interactive
# callers' demand as "until" times (milliseconds of the database's clock) ...
rate_budget = sa.Table(
    "rate_budget",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("paused_until_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("demand_until_ms", sa.BigInteger, nullable=False, server_default="0"),
)

# ... and its sliding-window log: one row per admitted request, stamped ahead while in flight.
rate_budget_log = sa.Table(
    "rate_budget_log",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("member", sa.String(64), primary_key=True),
    sa.Column("stamp_ms", sa.BigInteger, nullable=False),
    sa.Index(None, "key", "stamp_ms"),
)
