"""Stopping `revops demo` the way a process manager (SIGTERM) or a terminal (SIGINT) does stops
every process it started and frees every port: `dg dev`, the webserver, the daemon, the code
servers, the sync's `dg launch`, and the receiver and sandboxes served inside the demo.

The demo runs as a user would start it (the installed `revops` script), with `--free-ports` and
its state under a temporary REVOPS_STATE_DIR, so it never touches the fixed demo ports or the
checkout's `.revops/`. It starts with SIGINT ignored, as a background job of a shell script (and
everything started under one, CI included) does: Ctrl-C must stop it all the same. The signal goes
to the demo's process alone."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
# dg dev loads the code location in a code server before the webserver answers: on this
# 2-core machine under load that alone can take two minutes.
READY_TIMEOUT = 300
# The demo stops the sync's `dg launch`, then `dg dev`, each allowed 30 s before SIGKILL and 10 s
# after it, then its receiver (a fast-path launch in flight: at most 6 s) and sandboxes: 90 s by
# design. Alone a stop takes 5-10 s; 65 s in a CI run where every process ignored SIGINT.
STOP_WAIT = 180
DEMO_ARGS = ["demo", "--free-ports", "--ready-timeout", str(READY_TIMEOUT)]
URL_PORT = re.compile(r"https?://127\.0\.0\.1:(\d+)")


def _demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REVOPS_DATABASE_URL")}
    env["REVOPS_STATE_DIR"] = str(tmp_path / "state")
    return env


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = log.read_text(errors="replace")
        if text in output:
            return output
        assert process.poll() is None, f"the demo exited early:\n{output[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in time:\n{output[-3000:]}"
        time.sleep(0.5)


def _tree(pid: int) -> list[psutil.Process]:
    return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]


def _wait_for_child(pid: int, word: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(word in " ".join(_cmdline(p)) for p in _tree(pid)):
        assert time.monotonic() < deadline, f"no {word!r} process under the demo"
        time.sleep(0.2)


def _cmdline(process: psutil.Process) -> list[str]:
    with suppress(psutil.Error):
        return process.cmdline()
    return []


def _exit_code(
    process: subprocess.Popen[bytes], log: Path, tree: list[psutil.Process], timeout: float
) -> int:
    """The demo's exit code once it has stopped; if it has not within `timeout`, a failure that
    says what was still running and what the demo printed last."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        alive = [" ".join(_cmdline(p))[:200] for p in tree if p.is_running()]
        output = log.read_text(errors="replace")[-3000:]
        pytest.fail(
            f"the demo still ran {timeout:.0f} s after the signal; alive: {alive}\n{output}"
        )


def _listening_ports(processes: list[psutil.Process]) -> set[int]:
    ports: set[int] = set()
    for process in processes:
        with suppress(psutil.Error):
            ports |= {
                c.laddr.port
                for c in process.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN
            }
    return ports


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, list[psutil.Process]]]:
    """The running demo, its output file, and a list the test fills with the processes it saw:
    whatever of them a failed test leaves running is killed afterwards."""
    log = tmp_path / "demo.log"
    revops = str(Path(sys.executable).with_name("revops"))
    with log.open("wb") as out:
        process = subprocess.Popen(
            # `trap "" INT` ignores SIGINT and exec keeps it ignored: the demo is the shell's
            # process. (Without its own handler, such a demo ignored the SIGINT of the test.)
            ["sh", "-c", 'trap "" INT; exec "$0" "$@"', revops, *DEMO_ARGS],
            cwd=tmp_path,
            env=_demo_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seen: list[psutil.Process] = []
    try:
        yield process, log, seen
    finally:
        with suppress(psutil.Error):
            seen += _tree(process.pid)
        for leftover in seen:
            with suppress(psutil.Error):
                leftover.kill()
        process.kill()
        process.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_demo_stops_every_process_and_frees_every_port(
    demo: tuple[subprocess.Popen[bytes], Path, list[psutil.Process]], sig: signal.Signals
) -> None:
    process, log, seen = demo
    output = _wait_for(log, "syncing the Salesforce accounts", process, READY_TIMEOUT + 60)
    # Stopped mid-demo: the sync's `dg launch` is running beside dg dev.
    _wait_for_child(process.pid, "launch", timeout=30)
    tree = _tree(process.pid)
    seen += tree
    commands = "\n".join(" ".join(_cmdline(p)) for p in tree)
    for part in ("dg dev", "dagster_webserver", "dagster._daemon", "code-server", "launch"):
        assert part in commands, f"no {part!r} among the demo's processes:\n{commands}"
    printed = {int(port) for port in URL_PORT.findall(output)}  # sandboxes, receiver, UI
    assert len(printed) == 8
    ports = _listening_ports(tree) | printed

    process.send_signal(sig)
    assert _exit_code(process, log, tree, timeout=STOP_WAIT) == 0
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert [" ".join(_cmdline(p)) for p in alive] == []
    assert sorted(p for p in ports if not _port_is_free(p)) == []
    text = log.read_text(errors="replace")
    # Each group's stop says how it went, so a slow one shows where the time went.
    assert re.search(
        r"the sync's dg launch stopped: [\d.]+ s, (on the first signal|after SIGKILL)", text
    )
    assert re.search(r"Dagster \(dg dev\) stopped: [\d.]+ s", text)
    assert "demo stopped" in text
