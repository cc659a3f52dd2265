"""From inbox rows to finished runs: claimed by the run, parsed, quarantined, marked done at the
end; a failed run's rows go back to pending and fail for good after the maximum attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.assets import forms
from revops_pipelines.definitions import defs
from revops_pipelines.domain.submissions import Submission
from revops_pipelines.sensors import inbox as inbox_sensors
from revops_pipelines.sensors.inbox import (
    FORMS,
    InboxCursor,
    form_inbox_sensor,
    inbox_run_canceled_sensor,
    inbox_run_failure_sensor,
    plan_tick,
)
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from tests.sensors.helpers import fixture_body, run_request, store, store_forms, tick


def _statuses(engine: sa.Engine, ids: list[int]) -> list[tuple[str, int]]:
    return [(r.status, r.attempts) for r in inbox.get_rows(engine, ids)]


def _fail_sensor(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, db_url: str
) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name="inbox_run_failure_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"database": RevopsDatabase(url=db_url)},
    ).for_run_failure()
    inbox_run_failure_sensor(context)


def test_form_batch_is_parsed_quarantined_and_marked_done_at_the_end(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str
) -> None:
    ids = store_forms(engine, 2)
    bad = store(
        engine, "tally", "no-email", fixture_body("tally_example.json", data={"fields": []})
    )
    [request] = tick(form_inbox_sensor, instance, db_url, None).run_requests

    result = run_request(request, "inbound_leads_job", instance)
    assert result.success
    submissions: list[Submission] = result.output_for_node("form_submissions")
    assert [(s.source, s.email, s.raw_ref) for s in submissions] == [
        ("typeform", "laura@example.com", f"webhook_inbox:{ids[0]}"),
        ("tally", "john@company.com", f"webhook_inbox:{ids[1]}"),
    ]
    [materialization] = result.asset_materializations_for_node("form_submissions")
    metadata = materialization.metadata
    assert (metadata["claimed"].value, metadata["parsed"].value, metadata["quarantined"].value) == (
        3,
        2,
        1,
    )
    assert "tally: no email answer found" in metadata["quarantined_rows"].value
    [done] = result.asset_materializations_for_node("form_inbox_done")
    assert done.metadata["marked_done"].value == 2
    assert _statuses(engine, [*ids, bad]) == [("done", 0), ("done", 0), ("quarantined", 0)]
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "no_failed_form_rows" and check.passed

    # the daemon would not launch the same run key twice; a second run of it would claim nothing
    again = run_request(request, "inbound_leads_job", instance)
    assert again.output_for_node("form_submissions") == []


def test_failed_run_returns_its_rows_then_they_fail_after_max_attempts(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_sensors, "MAX_ATTEMPTS", 2)
    ids = store_forms(engine, 2)
    plan = plan_tick(engine, FORMS, InboxCursor())
    [request] = plan.run_requests

    def broken_mark_done(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("Attio is down")

    monkeypatch.setattr(inbox, "mark_done", broken_mark_done)
    failed = run_request(request, "inbound_leads_job", instance, raise_on_error=False)
    assert not failed.success
    assert _statuses(engine, ids) == [("processing", 0)] * 2  # held until the failure is handled
    _fail_sensor(instance, failed, db_url)
    rows = inbox.get_rows(engine, ids)
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [("pending", 1, None)] * 2
    assert rows[0].last_error.startswith(f"run {failed.run_id} of inbound_leads_job failed")

    later = datetime.now(UTC) + timedelta(minutes=10)
    [retry] = plan_tick(engine, FORMS, plan.cursor, now=later, max_attempts=2).run_requests
    assert retry.run_key != request.run_key and retry.run_key.startswith("forms-retry-")
    failed_again = run_request(retry, "inbound_leads_job", instance, raise_on_error=False)
    _fail_sensor(instance, failed_again, db_url)
    assert _statuses(engine, ids) == [("failed", 2)] * 2  # not retried forever

    assert plan_tick(engine, FORMS, plan.cursor, now=later + timedelta(hours=1)).run_requests == []
    # the asset check on the inbox surfaces them in the UI
    result = dg.materialize(
        [forms.WEBHOOK_INBOX, forms.no_failed_form_rows],
        selection=dg.AssetSelection.checks(forms.no_failed_form_rows),
        resources={"database": RevopsDatabase(url=db_url)},
        instance=instance,
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["failed"].value == 2


def test_run_that_dies_before_claiming_still_charges_its_batch(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store_forms(engine, 2)
    [request] = plan_tick(engine, FORMS, InboxCursor()).run_requests

    def broken_claim(*_args: object, **_kwargs: object) -> list[inbox.InboxRow]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(inbox, "claim_batch", broken_claim)
    failed = run_request(request, "inbound_leads_job", instance, raise_on_error=False)
    assert not failed.success
    _fail_sensor(instance, failed, db_url)
    assert _statuses(engine, ids) == [("pending", 1)] * 2


def test_canceled_run_releases_its_rows(
    engine: sa.Engine, instance: dg.DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store_forms(engine, 1)
    [request] = plan_tick(engine, FORMS, InboxCursor()).run_requests
    monkeypatch.setattr(inbox, "mark_done", lambda *a, **k: 1 / 0)
    run = run_request(request, "inbound_leads_job", instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="inbox_run_canceled_sensor",
        dagster_instance=instance,
        dagster_run=run.dagster_run,
        dagster_event=run.get_run_failure_event(),
        resources={"database": RevopsDatabase(url=db_url)},
    )
    inbox_run_canceled_sensor(context)
    [row] = inbox.get_rows(engine, ids)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == f"run {run.run_id} of inbound_leads_job was canceled"


def test_manual_run_without_a_batch_claims_the_backlog(
    engine: sa.Engine, instance: dg.DagsterInstance
) -> None:
    ids = store_forms(engine, 3)
    result = defs.resolve_job_def("inbound_leads_job").execute_in_process(
        instance=instance, run_config={"ops": {"form_submissions": {"config": {"limit": 2}}}}
    )
    assert [s.raw_ref for s in result.output_for_node("form_submissions")] == [
        f"webhook_inbox:{i}" for i in ids[:2]
    ]
    assert [s for s, _ in _statuses(engine, ids)] == ["done", "done", "pending"]
