"""The daily routing dashboard: a day's partition over the store (SQLite and PostgreSQL) holds
per rep the leads routed, the median minutes to first touch and the SLA breaches; other days'
leads stay out; a past day can be materialized (backfilled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from revops_pipelines.assets.routing_dashboard import routing_daily_dashboard
from revops_pipelines.domain.personal_data import mask_email
from revops_pipelines.domain.routing_dashboard import daily_rows
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.first_touch import LeadTask, record_first_touch
from revops_pipelines.store.ledger import LedgerTable
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import routing_assignment

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _assign(engine, key: str, rep: str, at: datetime, sequence: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        connection.execute(
            routing_assignment.insert().values(
                lead_key=key,
                pool="inbound",
                rep=rep,
                rule="catch_all",
                reason="test",
                sequence=sequence,
                assigned_at=at,
            )
        )


def test_a_days_partition_holds_the_per_rep_table(db_url, dagster_instance) -> None:  # type: ignore[no-untyped-def]
    engine = store_engine.get_engine(db_url)
    ava, noah = "ava.thompson@northwindsales.io", "noah.patel@northwindsales.io"
    for n, (key, rep, at) in enumerate(
        [
            ("typeform:a", ava, DAY + timedelta(hours=9)),
            ("typeform:b", ava, DAY + timedelta(hours=10)),
            ("typeform:c", ava, DAY + timedelta(hours=11)),
            ("tally:d", noah, DAY + timedelta(hours=23, minutes=59)),
            ("tally:e", noah, DAY + timedelta(days=1)),  # the next day
        ]
    ):
        _assign(engine, key, rep, at, n + 1)
    for key, minutes in (("typeform:a", 10), ("typeform:b", 30), ("tally:e", 5)):
        webhook = DAY + timedelta(hours=8)
        record_first_touch(
            engine,
            LeadTask(key, webhook),
            person_id="p",
            task_id=f"t-{key}",
            touched_at=webhook + timedelta(minutes=minutes),
        )
    LedgerTable(engine).done(
        "tally:d:sla_escalation", "sla_escalation", attempts=1, ref="ts", result=None
    )

    result = dg.materialize(
        [routing_daily_dashboard],
        partition_key="2026-11-20",
        instance=dagster_instance,
        resources={"database": RevopsDatabase(url=db_url)},
    )
    assert result.success
    rows = result.output_for_node("routing_daily_dashboard")
    assert rows == [
        {
            "rep": ava,
            "leads routed": 3,
            "first touched": 2,
            "median minutes to first touch": 20.0,
            "SLA breaches": 0,
        },
        {
            "rep": noah,
            "leads routed": 1,
            "first touched": 0,
            "median minutes to first touch": None,
            "SLA breaches": 1,
        },
    ]
    [materialization] = result.asset_materializations_for_node("routing_daily_dashboard")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert (metadata["leads_routed"], metadata["sla_breaches"]) == (4, 1)
    # Metadata tables mask every address (issue 15); the asset's value keeps the reps' emails.
    assert f"| {mask_email(ava)} | 3 | 2 | 20.0 | 0 |" in metadata["per_rep"]
    assert f"| {mask_email(noah)} | 1 | 0 | — | 1 |" in metadata["per_rep"]


def test_daily_rows_of_an_empty_day() -> None:
    assert daily_rows([], {}, set()) == []
