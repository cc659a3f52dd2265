"""The crash tests' world: the store and the Dagster instance on one engine (`db_url`), the
sandboxes on loopback, and the environment of the run workers they kill (`tests/crash/worker.py`).

The heartbeat is fast here (a beat every 0.5 s, dead after 2 s of silence) so a test waits
seconds, not the production minute and a half; the inbox backoff is half a second likewise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.resource import RevopsDatabase
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN
from tests.conftest import ATTIO_TEST_KEY
from tests.crash import worker

FAST = {
    "REVOPS_RUN_HEARTBEAT_SECONDS": "0.5",
    "REVOPS_RUN_HEARTBEAT_LEASE_SECONDS": "2",
    "REVOPS_INBOX_RETRY_BASE_SECONDS": "0.5",
}


@pytest.fixture(scope="session", autouse=True)
def run_worker_fork_server() -> None:
    """The fork server's one import of the code location, before the first test's clock."""
    worker.warm_up()


@dataclass
class CrashWorld:
    db_url: str
    engine: sa.Engine
    instance: dg.DagsterInstance
    attio: Any
    env: dict[str, str]  # a run worker's environment

    @property
    def database(self) -> RevopsDatabase:
        return RevopsDatabase(url=self.db_url)


@pytest.fixture
def crash_world(
    db_url: str, dagster_instance: dg.DagsterInstance, attio_sandbox: Any, monkeypatch: Any
) -> Iterator[CrashWorld]:
    """The store, the instance and Attio; the sensors evaluated in this process get the same
    fast heartbeat and backoff as the workers."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    env = {
        **FAST,
        "DAGSTER_HOME": str(dagster_instance.root_directory),
        store_engine.DATABASE_URL_ENV: db_url,
        "ATTIO_API_KEY": ATTIO_TEST_KEY,
        "ATTIO_BASE_URL": attio_sandbox.api_url,
    }
    yield CrashWorld(db_url, store_engine.get_engine(db_url), dagster_instance, attio_sandbox, env)


@pytest.fixture
def lead_world(crash_world: CrashWorld, side_systems: dict[str, Any]) -> CrashWorld:
    """`crash_world` plus Slack, Outreach and enrichment, emptied, in the workers' environment."""
    urls = {}
    for name, (sandbox, url) in side_systems.items():
        sandbox.reset()
        urls[name] = url
    slack = side_systems["slack"][0]
    slack.configure(channel_rate=100.0, burst=100)  # Slack's pace is not what is tested here
    crash_world.env.update(
        {
            "SLACK_BOT_TOKEN": SLACK_SANDBOX_TOKEN,
            "SLACK_API_BASE_URL": f"{urls['slack']}/api/",
            "OUTREACH_ACCESS_TOKEN": OUTREACH_SANDBOX_TOKEN,
            "OUTREACH_BASE_URL": f"{urls['outreach']}/api/v2",
            "OUTREACH_MAILBOX_ID": "1",
            "ENRICHMENT_API_KEY": ENRICHMENT_SANDBOX_KEY,
            "ENRICHMENT_BASE_URL": urls["enrichment"],
        }
    )
    return crash_world
