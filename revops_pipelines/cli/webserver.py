"""Finding the checkout's workspace file, and waiting for a Dagster webserver started as a child
process on it (`processes.py` stops it)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

ASSET_NODES = "{ assetNodes { assetKey { path } } }"


class WebserverNotReady(RuntimeError):
    """The webserver exited, or its code location did not load in time."""


def workspace_file() -> Path:
    """The top-level workspace.yaml, which names the code location `revops_pipelines` whatever
    the checkout folder is called: the checkout of this (editable) install, else the current
    directory's."""
    for folder in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = folder / "workspace.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "workspace.yaml not found: run from a checkout of revops-pipelines (`make demo`)"
    )


def wait_for_asset_graph(
    url: str, process: subprocess.Popen[bytes], timeout: float, *, poll_seconds: float = 1.0
) -> list[str]:
    """The webserver answers before the code location has loaded: wait until GraphQL lists
    the asset nodes, and return their keys."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WebserverNotReady(f"the webserver exited with code {process.returncode}")
        try:
            answer = httpx.post(f"{url}/graphql", json={"query": ASSET_NODES}, timeout=5)
            nodes = (answer.json().get("data") or {}).get("assetNodes")
            if answer.status_code == 200 and nodes:
                return ["/".join(n["assetKey"]["path"]) for n in nodes]
            last = answer.text[:300]
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(poll_seconds)
    raise WebserverNotReady(f"the code location did not load at {url} in time: {last}")
