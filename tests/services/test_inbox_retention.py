"""Inbox retention (issue 15, item 5): `revops webhooks purge --older-than 30d` and its weekly
schedule (off by default) empty the bodies and headers of settled rows and keep their
`(source, event_id)`; the metrics scrape counts with indexed queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.definitions import defs
from revops_pipelines.schedules import inbox_purge_schedule
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.inbox_queries import DEPTH_STATUSES, inbox_depth
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.store.tables import webhook_inbox

OLD = datetime.now(UTC) - timedelta(days=40)
BODY = b'{"email": "ada@analytical.example"}'


def _rows(engine: sa.Engine) -> dict[str, int]:
    """One row per case, by name: old done, old quarantined, old failed, recent done, pending."""
    names = ["old_done", "old_quarantined", "old_failed", "recent_done", "pending"]
    stored = inbox.store_events(
        engine, [NewEvent("typeform", name, {"content-type": "x"}, BODY) for name in names]
    )
    ids = dict(zip(names, (r.id for r in stored), strict=True))
    for name in ("old_done", "old_quarantined", "old_failed", "recent_done"):
        inbox.claim_batch(engine, "typeform", limit=1, claimed_by=name, ids=[ids[name]])
    inbox.mark_done(engine, [ids["old_done"]], now=OLD)
    inbox.mark_quarantined(engine, ids["old_quarantined"], "unreadable", now=OLD)
    inbox.release(engine, [ids["old_failed"]], "Attio 503", max_attempts=1, now=OLD)
    inbox.mark_done(engine, [ids["recent_done"]])
    return ids


def _bodies(engine: sa.Engine) -> dict[str, tuple[bytes, dict, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_inbox)).mappings().all()
    return {
        r["event_id"]: (bytes(r["body"]), r["headers"], r["purged_at"] is not None) for r in rows
    }


def test_purge_empties_old_settled_rows_and_redeliveries_stay_duplicates(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    engine = store_engine.get_engine(db_url)
    ids = _rows(engine)
    result = CliRunner().invoke(app, ["webhooks", "purge", "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert "emptied 2 settled rows older than 30d" in result.output
    bodies = _bodies(engine)
    assert bodies["old_done"] == (b"", {}, True)
    assert bodies["old_quarantined"] == (b"", {}, True)
    for kept in ("old_failed", "recent_done", "pending"):
        assert bodies[kept] == (BODY, {"content-type": "x"}, False)
    # The key stays: Attio or Typeform redelivering the old event is still a duplicate.
    again = inbox.store_event(engine, source="typeform", event_id="old_done", headers={}, body=BODY)
    assert again.outcome == "duplicate"
    # A purged row cannot be requeued (nothing left to process); the failed one can.
    assert inbox.requeue(engine, [ids["old_quarantined"], ids["old_failed"]]) == 1
    # Nothing left to purge the second time.
    second = CliRunner().invoke(app, ["webhooks", "purge", "--older-than", "30d"])
    assert "emptied 0 settled rows" in second.output


@pytest.mark.parametrize(("age", "message"), [("30x", "is not an age"), ("3h", "less than a day")])
def test_purge_refuses_a_bad_or_too_short_age(
    db_url: str, monkeypatch: pytest.MonkeyPatch, age: str, message: str
) -> None:
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    _rows(store_engine.get_engine(db_url))
    result = CliRunner().invoke(app, ["webhooks", "purge", "--older-than", age])
    assert result.exit_code == 1 and message in result.output
    assert _bodies(store_engine.get_engine(db_url))["old_done"][2] is False


def test_the_weekly_purge_schedule_is_off_by_default_and_its_job_purges(
    db_url: str, dagster_instance: dg.DagsterInstance
) -> None:
    schedule = inbox_purge_schedule
    assert schedule in defs.schedules  # type: ignore[operator]
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "inbox_purge_job"
    engine = store_engine.get_engine(db_url)
    _rows(engine)
    job = defs.resolve_job_def("inbox_purge_job")
    result = job.execute_in_process(
        instance=dagster_instance, resources={"database": RevopsDatabase(url=db_url)}
    )
    assert result.success
    assert _bodies(engine)["old_done"] == (b"", {}, True)


def test_the_scrape_counts_with_the_status_index_and_skips_done(db_url: str) -> None:
    engine = store_engine.get_engine(db_url)
    _rows(engine)
    depth = inbox_depth(engine)
    assert set(depth.by_status) == set(DEPTH_STATUSES) and "done" not in depth.by_status
    assert depth.by_status["pending"] == 1 and depth.by_status["failed"] == 1
    count = sa.select(sa.func.count()).select_from(webhook_inbox)
    statement = count.where(webhook_inbox.c.status == "pending")
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # as on a large table
            plan = " ".join(r[0] for r in conn.execute(sa.text(f"EXPLAIN {sql}")))
            assert "Index Only Scan" in plan or "Index Scan" in plan, plan
        else:
            plan = " ".join(str(r[-1]) for r in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "USING COVERING INDEX ix_webhook_inbox_status_source_id" in plan, plan
