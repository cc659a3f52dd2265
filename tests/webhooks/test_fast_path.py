"""The receiver's fast path without a Dagster webserver behind it: off unless configured, named
like the code location, and never in the way of a delivery (an unreachable webserver leaves the
row pending for the sensor, and the answer is the usual 202). The launch itself, and exactly once
with the sensor, are tested against a real webserver and daemon in tests/deploy/test_fast_path.py.
"""

from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest

from revops_pipelines.jobs import CLAIMING_ASSET, inbound_leads_job
from revops_pipelines.sensors.inbox import FORMS, new_batch_key
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import PendingRef
from revops_pipelines.webhooks import fast_path
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.fast_path import FastPathSettings, execution_params
from revops_pipelines.webhooks.settings import ReceiverSettings, fast_path_setting
from revops_sandbox.server import serve_in_thread
from tests.webhooks.helpers import SECRETS, example, signed


def test_the_fast_path_names_the_job_asset_and_sensor_of_the_code_location() -> None:
    assert fast_path.LEADS_JOB == inbound_leads_job.name == FORMS.job_name
    assert CLAIMING_ASSET[fast_path.LEADS_JOB] == fast_path.CLAIMING_ASSET
    assert FORMS.sensor_name == fast_path.SENSOR_NAME
    # a one-row batch gets the sensor's own run key, so the sensor skips that batch
    assert fast_path.run_key(42) == new_batch_key(FORMS, [PendingRef(42, "typeform", 0)])
    params = execution_params("revops_pipelines", 42)
    assert params["runConfigData"] == {
        "ops": {"form_submissions": {"config": {"inbox_ids": [42], "limit": 1}}}
    }
    tags = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
    assert tags["dagster/run_key"] == "forms-42-42"
    assert tags["revops/launched_by"] == "receiver"
    assert set(FORMS.sources) == {s for s in FORMS.sources if fast_path.FastPath.handles(s)}
    assert not fast_path.FastPath.handles("attio")


def test_the_fast_path_is_off_unless_the_graphql_url_is_set() -> None:
    assert fast_path_setting({}) is None
    assert fast_path_setting({"REVOPS_DAGSTER_GRAPHQL_URL": "  "}) is None
    on = fast_path_setting({"REVOPS_DAGSTER_GRAPHQL_URL": "http://dagster:3000/graphql"})
    assert on == FastPathSettings("http://dagster:3000/graphql", "revops_pipelines")
    named = fast_path_setting(
        {
            "REVOPS_DAGSTER_GRAPHQL_URL": "https://dagster.internal/graphql",
            "REVOPS_DAGSTER_LOCATION_NAME": "revops",
        }
    )
    assert named is not None and named.location_name == "revops"
    with pytest.raises(ValueError, match="REVOPS_DAGSTER_GRAPHQL_URL must be an http"):
        fast_path_setting({"REVOPS_DAGSTER_GRAPHQL_URL": "dagster:3000"})
    env = {
        "TYPEFORM_WEBHOOK_SECRET": "typeform-secret-0123456789",
        "REVOPS_DATABASE_URL": "sqlite:///x.db",
    }
    assert ReceiverSettings.from_env(env).fast_path is None
    env["REVOPS_DAGSTER_GRAPHQL_URL"] = "http://127.0.0.1:3000/graphql"
    assert ReceiverSettings.from_env(env).fast_path == on.__class__(
        "http://127.0.0.1:3000/graphql", "revops_pipelines"
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_webserver_leaves_the_row_to_the_sensor(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/graphql"
    settings = ReceiverSettings(
        db_url, secrets=SECRETS, fast_path=FastPathSettings(url, timeout_seconds=2.0)
    )
    app = create_app(settings)
    body = example("typeform")
    with caplog.at_level(logging.INFO, logger="revops.webhooks"), serve_in_thread(app) as server:
        answer = httpx.post(
            f"{server.url}/webhooks/typeform", content=body, headers=signed("typeform", body)
        )
        # an Attio event has no fast path: stored, nothing launched
        attio = example("attio")
        other = httpx.post(
            f"{server.url}/webhooks/attio", content=attio, headers=signed("attio", attio)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _failures(caplog):
            time.sleep(0.1)
    assert answer.status_code == 202 and other.status_code == 202
    inbox_id = answer.json()["id"]
    [row] = inbox.get_rows(store_engine.get_engine(db_url), [inbox_id])
    assert (row.status, row.claimed_by, row.attempts) == ("pending", None, 0)
    [failure] = _failures(caplog)
    assert failure.levelno == logging.WARNING
    assert failure.fields["inbox_id"] == inbox_id
    assert "sensor will launch" in failure.getMessage()
    # nothing of the lead's payload in the log line
    assert "@" not in failure.getMessage() and "@" not in str(failure.fields)


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "fast_path_failed"
    ]
