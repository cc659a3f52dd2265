"""What the receiver exposes (issue 15, item 4): escaped human log lines, `/healthz` and refusals
without variable names, and `/metrics` on a port of its own (loopback) by option."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from revops_pipelines.webhooks.logs import HumanFormatter, escape_text
from revops_pipelines.webhooks.sources import SOURCES
from tests.webhooks.conftest import serve_receiver
from tests.webhooks.helpers import SECRETS

DOC = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_source_name_with_a_newline_cannot_forge_a_human_log_line() -> None:
    forged = "x\n2026-12-03 12:00:00 INFO    revops.webhooks webhook typeform -> 202 stored"
    record = logging.LogRecord(
        "revops.webhooks", logging.WARNING, __file__, 1, f"webhook {forged} -> 404", None, None
    )
    record.fields = {"source": forged, "note": "a=b c", "color": "\x1b[31mred"}
    line = HumanFormatter().format(record)
    assert "\n" not in line and "\x1b" not in line
    assert "webhook x\\n2026-12-03" in line
    assert 'source="x\\n2026-12-03 12:00:00 INFO' in line
    assert 'note="a=b c"' in line and "color=\\x1b[31mred" in line
    assert escape_text("plain") == "plain"


def test_healthz_and_refusals_name_no_variable(db_url: str) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != "tally"}  # tally refused
    with serve_receiver(db_url, secrets) as receiver:
        health = receiver.client.get("/healthz")
        refused = receiver.client.post("/webhooks/tally", content=b"{}")
    assert health.status_code == 200 and health.json()["sources"]["tally"] == "refused"
    assert refused.status_code == 503
    for text in (health.text, refused.text):
        for source in SOURCES.values():
            assert source.secret_env not in text
        assert "_SECRET" not in text and "_KEY" not in text


def test_metrics_on_their_own_loopback_port_and_not_on_the_public_one(tmp_path: Path) -> None:
    port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "REVOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'revops.db'}",
        "TYPEFORM_WEBHOOK_SECRET": SECRETS["typeform"],
    }
    env.pop("REVOPS_ENV", None)
    revops = str(Path(sys.executable).with_name("revops"))
    command = [revops, "webhooks", "serve", "--port", str(port)]
    command += ["--metrics-port", str(metrics_port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        try:
            url, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
            deadline = time.monotonic() + 240  # a loaded CI machine imports slowly
            while True:
                try:
                    if httpx.get(f"{metrics_url}/metrics", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.2)
            assert httpx.post(f"{url}/webhooks/nope", content=b"{}").status_code == 404
            assert httpx.get(f"{url}/metrics").status_code == 404
            scraped = httpx.get(f"{metrics_url}/metrics").text
            assert 'revops_webhook_requests_total{source="unknown",status="404"} 1.0' in scraped
            assert httpx.get(f"{metrics_url}/healthz").status_code == 404  # /metrics alone
        finally:
            process.terminate()
            process.communicate(timeout=30)
    # Stopped by SIGTERM: both ports are free again.
    for free in (port, metrics_port):
        with socket.socket() as s:
            s.bind(("127.0.0.1", free))


def test_the_deployment_guide_gives_one_binding_advice() -> None:
    text = DOC.read_text()
    assert "0.0.0.0" not in text
    assert "--metrics-port" in text and "authenticating" in text


def test_metrics_stay_on_the_receiver_port_without_the_option(db_url: str) -> None:
    with serve_receiver(db_url, SECRETS) as receiver:
        assert receiver.client.get("/metrics").status_code == 200
