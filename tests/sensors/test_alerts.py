"""The Slack run-failure sensor against the Slack sandbox, and the sync's freshness policies."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from revops_pipelines.assets import salesforce_sync
from revops_pipelines.definitions import defs
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.sensors import alerts
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox


@pytest.fixture
def sandbox(slack_sandbox: SlackSandbox) -> SlackSandbox:
    return slack_sandbox


@pytest.fixture
def slack(sandbox: SlackSandbox, monkeypatch: pytest.MonkeyPatch) -> SlackResource:
    monkeypatch.delenv(alerts.CHANNEL_ENV, raising=False)
    monkeypatch.setenv("REVOPS_ENV", "production")  # whose profile alerts #revops-alerts
    return SlackResource(token=SLACK_SANDBOX_TOKEN, base_url=f"{sandbox.url}/api/")


@dg.op
def explode() -> None:
    raise RuntimeError("Attio answered 500 three times")


@dg.job
def doomed_job() -> None:
    explode()


def _failure_context(
    instance: dg.DagsterInstance, slack: SlackResource
) -> dg.RunFailureSensorContext:
    result = doomed_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name=alerts.slack_run_failure_sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"slack": slack},
    ).for_run_failure()


def _posts(sandbox: SlackSandbox) -> int:
    return sandbox.stats()["requests"].get("POST /api/chat.postMessage", 0)


def test_a_failed_run_posts_one_message(
    sandbox: SlackSandbox, slack: SlackResource, instance: dg.DagsterInstance
) -> None:
    context = _failure_context(instance, slack)
    alerts.slack_run_failure_sensor(context)

    [message] = sandbox.messages("#revops-alerts")
    run_id = context.dagster_run.run_id
    assert "doomed_job" in message["text"] and run_id[:8] in message["text"]
    assert message["metadata"]["event_payload"]["marker"] == f"run-failure:{run_id}"
    assert run_id in str(message["blocks"])

    alerts.slack_run_failure_sensor(context)  # a re-evaluated tick finds its message
    assert len(sandbox.messages("#revops-alerts")) == 1
    assert _posts(sandbox) == 1


def test_the_channel_comes_from_the_environment(
    sandbox: SlackSandbox,
    slack: SlackResource,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(alerts.CHANNEL_ENV, "#sales-leads")
    alerts.slack_run_failure_sensor(_failure_context(instance, slack))
    assert len(sandbox.messages("#sales-leads")) == 1
    assert sandbox.messages("#revops-alerts") == []


def test_without_a_token_nothing_is_posted(
    sandbox: SlackSandbox, instance: dg.DagsterInstance
) -> None:
    unconfigured = SlackResource(token=None, base_url=f"{sandbox.url}/api/")
    alerts.slack_run_failure_sensor(_failure_context(instance, unconfigured))
    assert _posts(sandbox) == 0


def test_default_status_follows_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-anything")
    assert alerts._default_status() == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv("SLACK_BOT_TOKEN", " ")
    assert alerts._default_status() == dg.DefaultSensorStatus.STOPPED
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert alerts._default_status() == dg.DefaultSensorStatus.STOPPED


def test_the_message_names_the_partition_and_clips_the_error() -> None:
    run = dg.DagsterRun(
        job_name="salesforce_incremental_sync_job",
        run_id="0123456789abcdef",
        tags={"dagster/partition": "2026-11-20"},
    )
    text, blocks = alerts.failure_message(run, "x" * 5000, "http://dagster.local/")
    assert text == "Dagster run failed: salesforce_incremental_sync_job [2026-11-20] (01234567)"
    assert len(blocks[2]["text"]["text"]) < alerts.MAX_ERROR_CHARS + 10
    assert blocks[-1]["elements"][0]["url"] == "http://dagster.local/runs/0123456789abcdef"


def test_sync_assets_carry_the_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    for name in ("mapped_companies", "attio_companies"):
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        assert policy == salesforce_sync.SYNC_FRESHNESS
        assert policy.fail_window.to_timedelta() == timedelta(hours=26)
    assert graph.get(dg.AssetKey("salesforce_accounts")).freshness_policy is None
    assert defs.resolve_sensor_def("slack_run_failure_sensor") is not None
