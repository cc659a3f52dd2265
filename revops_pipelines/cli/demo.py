"""`revops demo`: the whole system on this machine, with the sandbox stand-ins and no accounts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx

from revops_pipelines.sandbox.stack import serve_sandboxes
from revops_pipelines.store import engine as store_engine

DAGSTER_YAML = """\
# Written by `revops demo`: a local instance (SQLite storage under this folder).
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def _prepare_dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or store_engine.state_dir() / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home.resolve()


def _wait_for_ui(url: str, process: subprocess.Popen[bytes], timeout: float) -> list[str]:
    """Wait until the webserver answers and the code location has loaded; return asset keys."""
    query = "{ assetNodes { assetKey { path } } }"
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"`dg dev` exited with code {process.returncode}")
        try:
            response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=5)
            nodes = response.json().get("data", {}).get("assetNodes")
            if response.status_code == 200 and nodes is not None:
                return ["/".join(n["assetKey"]["path"]) for n in nodes]
            last_error = response.text[:200]
        except (httpx.HTTPError, ValueError) as exc:
            last_error = str(exc)
        time.sleep(1)
    raise click.ClickException(f"the Dagster UI did not come up at {url}: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@click.command()
@click.option("--ui-port", type=int, default=3000, show_default=True)
@click.option("--exit-when-ready", is_flag=True, help="Stop once everything is up (for checks).")
@click.option("--ready-timeout", type=float, default=240.0, show_default=True)
def demo(ui_port: int, exit_when_ready: bool, ready_timeout: float) -> None:
    """Start the sandboxes, migrate the store, and open the Dagster UI on the project."""
    dagster_home = _prepare_dagster_home()
    url = store_engine.database_url()
    store_engine.upgrade(url)
    click.echo(f"store: {store_engine.current_revision(url)} at {url}")
    with serve_sandboxes() as stack:
        env = {**os.environ, **stack.environment(), "DAGSTER_HOME": str(dagster_home)}
        env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
        for name, server in stack.servers.items():
            click.echo(f"{name} sandbox: {server.url}")
        dg = Path(sys.executable).parent / "dg"
        ui = f"http://127.0.0.1:{ui_port}"
        process = subprocess.Popen(
            [str(dg), "dev", "--host", "127.0.0.1", "--port", str(ui_port)],
            env=env,
            start_new_session=True,
        )
        try:
            assets = _wait_for_ui(ui, process, ready_timeout)
            click.echo(f"Dagster UI: {ui} ({len(assets)} assets loaded)")
            if exit_when_ready:
                return
            click.echo("Ctrl-C stops everything.")
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop(process)
