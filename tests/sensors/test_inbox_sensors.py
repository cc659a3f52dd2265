"""Inbox sensors: cursor over the inbox, bounded batches, deterministic run keys, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from revops_pipelines.sensors.inbox import (
    ATTIO,
    FORMS,
    InboxCursor,
    attio_inbox_sensor,
    form_inbox_sensor,
    plan_tick,
)
from revops_pipelines.store import inbox
from tests.sensors.helpers import batch_ids, fixture_body, store, store_forms, tick


def test_cursor_and_run_keys_follow_the_inbox(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    forms = store_forms(engine, 3)
    attio_id = store(engine, "attio", "idem-1", fixture_body("attio_record_updated.json"))
    forms += store_forms(engine, 2, start=3)

    first = tick(form_inbox_sensor, instance, db_url, None)
    [request] = first.run_requests
    assert request.run_key == f"forms-{forms[0]}-{forms[-1]}"
    assert batch_ids(request, "form_submissions") == forms  # the Attio row is not in it
    assert request.tags["revops/inbox_batch"] == request.run_key
    assert json.loads(first.cursor)["last_id"] == forms[-1]

    again = tick(form_inbox_sensor, instance, db_url, first.cursor)
    assert again.run_requests == [] and again.skip_reason is not None
    assert again.cursor == first.cursor

    newer = store_forms(engine, 2, start=10)
    third = tick(form_inbox_sensor, instance, db_url, again.cursor)
    assert [r.run_key for r in third.run_requests] == [f"forms-{newer[0]}-{newer[1]}"]

    [attio_request] = tick(attio_inbox_sensor, instance, db_url, None).run_requests
    assert attio_request.run_key == f"attio-{attio_id}-{attio_id}"
    assert batch_ids(attio_request, "attio_events") == [attio_id]


def test_same_cursor_same_run_keys(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    store_forms(engine, 4)
    one = tick(form_inbox_sensor, instance, db_url, "0")
    two = tick(form_inbox_sensor, instance, db_url, "0")  # a plain integer cursor is accepted
    assert [r.run_key for r in one.run_requests] == [r.run_key for r in two.run_requests]
    assert one.cursor == two.cursor


def test_a_tick_is_bounded_and_the_cursor_resumes(engine: sa.Engine) -> None:
    ids = store_forms(engine, 8)
    plan = plan_tick(engine, FORMS, InboxCursor(), batch_size=3, max_batches=2)
    assert [r.run_key for r in plan.run_requests] == [
        f"forms-{ids[0]}-{ids[2]}",
        f"forms-{ids[3]}-{ids[5]}",
    ]
    assert plan.cursor.last_id == ids[5]
    rest = plan_tick(engine, FORMS, plan.cursor, batch_size=3, max_batches=2)
    assert [r.run_key for r in rest.run_requests] == [f"forms-{ids[6]}-{ids[7]}"]


def test_released_rows_come_back_under_a_new_retry_key(engine: sa.Engine) -> None:
    ids = store_forms(engine, 3)
    plan = plan_tick(engine, FORMS, InboxCursor())
    inbox.claim_batch(engine, FORMS.sources, limit=3, claimed_by="run-1", ids=ids)
    inbox.release_claimed_by(engine, "run-1", "boom")

    soon = plan_tick(engine, FORMS, plan.cursor)  # released just now: not yet idle
    assert soon.run_requests == []
    later = datetime.now(UTC) + timedelta(minutes=10)
    retry = plan_tick(engine, FORMS, plan.cursor, now=later)
    [request] = retry.run_requests
    assert request.run_key.startswith(f"forms-retry-{ids[0]}-{ids[-1]}-")
    assert batch_ids(request, "form_submissions") == ids
    assert (
        plan_tick(engine, FORMS, plan.cursor, now=later).run_requests[0].run_key == request.run_key
    )

    inbox.claim_batch(engine, FORMS.sources, limit=3, claimed_by="run-2", ids=ids)
    inbox.release_claimed_by(engine, "run-2", "boom again")
    retry_2 = plan_tick(engine, FORMS, plan.cursor, now=later + timedelta(minutes=10))
    assert retry_2.run_requests[0].run_key != request.run_key  # new attempt, new key


def test_rows_committed_behind_the_cursor_are_swept_up(engine: sa.Engine) -> None:
    """A row whose id is below the cursor but still pending (committed late, or its run never
    started) is picked up once idle."""
    ids = store_forms(engine, 2)
    cursor = InboxCursor(last_id=ids[-1] + 5)
    assert plan_tick(engine, FORMS, cursor).run_requests == []
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert (
        batch_ids(plan_tick(engine, FORMS, cursor, now=later).run_requests[0], "form_submissions")
        == ids
    )


def test_stale_claims_are_released_by_the_tick(engine: sa.Engine) -> None:
    [row_id] = store_forms(engine, 1)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    inbox.claim_batch(engine, FORMS.sources, limit=1, claimed_by="dead-run", now=two_hours_ago)
    plan = plan_tick(engine, FORMS, InboxCursor(last_id=row_id))
    assert plan.released == inbox.ReleaseResult(pending=1)
    [row] = inbox.get_rows(engine, [row_id])
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)


def test_failed_rows_are_reported_as_a_check_when_their_number_changes(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    first = tick(form_inbox_sensor, instance, db_url, None)
    [evaluation] = first.asset_events
    assert isinstance(evaluation, dg.AssetCheckEvaluation)
    assert (evaluation.check_name, evaluation.passed) == ("no_failed_form_rows", True)
    assert tick(form_inbox_sensor, instance, db_url, first.cursor).asset_events == []

    [row_id] = store_forms(engine, 1)
    inbox.claim_batch(engine, FORMS.sources, limit=1, claimed_by="r")
    inbox.release(engine, [row_id], "permanent boom", max_attempts=1)
    changed = tick(form_inbox_sensor, instance, db_url, first.cursor)
    [evaluation] = changed.asset_events
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["failed"].value == 1
    assert "permanent boom" in evaluation.metadata["failed_rows"].value
    assert json.loads(changed.cursor)["failed"] == 1
    # the Attio flow reports only its own sources
    attio_plan = plan_tick(engine, ATTIO, InboxCursor())
    assert attio_plan.check is not None and attio_plan.check.passed


def test_sensors_are_on_by_default_and_target_their_jobs() -> None:
    for sensor, job in (
        (form_inbox_sensor, "inbound_leads_job"),
        (attio_inbox_sensor, "attio_events_job"),
    ):
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.job_name == job
        # issue 12: every daemon loop (~5 s, Dagster's floor), no longer every 30 s
        assert sensor.minimum_interval_seconds == 5
