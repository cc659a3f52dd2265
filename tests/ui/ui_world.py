"""The pieces behind the UI test's fixtures: the synced partition, and the webserver process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from revops_pipelines.cli.processes import stop_process_group
from revops_pipelines.cli.webserver import WebserverNotReady, wait_for_asset_graph
from tests.assets.conftest import FAST_ATTIO
from tests.assets.sync_harness import NOW, resources

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".revops" / "test-artifacts" / "ui"
WORKSPACE = ROOT / "workspace.yaml"
# The name workspace.yaml gives the code location, whatever the checkout folder is called.
LOCATION = "revops_pipelines"
# Loading the code location takes 15 s on a quiet machine, and a minute when the cores are busy.
UI_START_TIMEOUT = 180.0
CHROMIUM = Path(os.environ.get("REVOPS_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking switches Chromium dials out, and the closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class SyncedWorld:
    """What the UI should show: the synced partition, its run, and `attio_companies` metadata."""

    partition: str
    run_id: str
    report: dict[str, Any]


@dataclass(frozen=True)
class Webserver:
    url: str
    world: SyncedWorld


def sync_one_partition(
    instance: dg.DagsterInstance,
    attio_server: tuple[Any, str],
    salesforce_server: tuple[Any, str, Any],
) -> SyncedWorld:
    """A day of the Salesforce -> Attio sync, run against the loopback sandboxes."""
    from revops_pipelines.assets.salesforce_sync import sync_assets
    from revops_sandbox.salesforce import SalesforceSandbox

    attio, attio_url = attio_server
    with httpx.Client(base_url=attio_url) as admin:
        admin.post("/_sandbox/reset").raise_for_status()
        admin.delete("/_sandbox/faults").raise_for_status()
        admin.post(
            "/_sandbox/config", json={"write_rate": 200.0, "read_rate": 400.0, "latency_ms": 0.0}
        ).raise_for_status()
    attio.api_url = f"{attio_url}/v2"

    switch, sf_url, tls = salesforce_server
    # A fixed clock and seed give the same org, so the same report, on every run.
    salesforce = SalesforceSandbox(accounts=160, days=4, now=NOW, seed=11)
    salesforce.url = sf_url  # type: ignore[attr-defined]
    switch.target = salesforce.app
    partition = (NOW - timedelta(days=1)).strftime("%Y-%m-%d")

    home = Path(instance.root_directory)
    res = resources(
        salesforce, attio, f"sqlite:///{home / 'revops.db'}", home / "frames", **FAST_ATTIO
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(tls.bundle_path))
        result = dg.materialize(
            sync_assets, resources=res, instance=instance, partition_key=partition
        )
    assert result.success
    report = result.asset_materializations_for_node("attio_companies")[0].metadata
    assert report["created"].value > 0, "the synced day must create companies for the UI to show"
    assert "sample_problems" in report, "the synced day must report a problem row (markdown)"
    return SyncedWorld(partition=partition, run_id=result.run_id, report=dict(report))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_webserver(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`dagster-webserver` on the checkout's workspace.yaml, with the instance and the store under
    `home`."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "REVOPS_DATABASE_URL": f"sqlite:///{home / 'revops.db'}",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-webserver")),
                *("-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_loaded(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    try:
        wait_for_asset_graph(url, process, UI_START_TIMEOUT, poll_seconds=0.5)
    except WebserverNotReady as exc:
        pytest.fail(f"dagster-webserver -w {WORKSPACE}: {exc}\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_process_group(process, signal.SIGTERM, timeout=15)
