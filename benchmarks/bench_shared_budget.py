"""The shared Attio rate budget across OS processes: achieved writes/s against the budget, the
most writes Attio saw in any rolling second, 429s, and how long interactive requests waited for
their turn while bulk processes saturate the budget.

Serves the Attio sandbox on loopback at Attio's real limit (25 writes/s per token), starts a
redis-server of its own on a free port (or uses `--redis-url`), and runs worker processes
(tests/infra/budget_worker.py: the real `AttioClient`, 16 requests in flight each) for each
scenario, once per way of counting a request (from its answer, the default; or from its sending
plus an allowance, `REVOPS_RATE_BUDGET_TRANSIT_MS`) and per latency the sandbox adds to each
answer (loopback answers in milliseconds; Attio's take a hundred or more):

    .venv/bin/python benchmarks/bench_shared_budget.py [--seconds 10] [--redis-url URL]
        [--counts-from answer,20] [--latency-ms 0,150]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
BUDGET = 25.0
SCENARIOS = {
    "2 bulk": ["bulk", "bulk"],
    "2 bulk + 1 interactive": ["bulk", "bulk", "interactive"],
    "1 bulk + 1 interactive": ["bulk", "interactive"],
}


def own_redis() -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = shutil.which("redis-server") or sys.exit("redis-server is not installed")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", process


def worker(
    api_url: str, env: dict[str, str], priority: str, seconds: float
) -> subprocess.Popen[str]:
    args = ["--priority", priority, "--seconds", str(seconds), "--key", KEY, "--wait-go"]
    if priority == "interactive":
        args += ["--lanes", "1", "--interval", "0.25"]  # a lead every quarter second
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.infra.budget_worker", "--api-url", api_url, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # ready: imports done
    return process


def scenario(
    url: str, redis_url: str, priorities: list[str], seconds: float, counts_from: str
) -> dict[str, Any]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REVOPS_RATE_BUDGET_PREFIX": f"bench:{uuid.uuid4().hex}",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REVOPS_RATE_BUDGET_TRANSIT_MS", None)
    if counts_from != "answer":
        env["REVOPS_RATE_BUDGET_TRANSIT_MS"] = counts_from
    workers = [worker(f"{url}/v2", env, p, seconds) for p in priorities]
    since = time.time()
    for w in workers:  # all imported: start them together
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    results = []
    for w in workers:
        out, _ = w.communicate(timeout=seconds + 120)
        results.append(json.loads(out.strip().splitlines()[-1]))
    log = httpx.get(f"{url}/_sandbox/rate_log", params={"since": since}).json()
    # From the first request Attio saw to the last: the workers' start and end are not exact.
    first, last = log.get("first"), log.get("last")
    span = max(1.0, last - first) if first is not None and last is not None else seconds
    interactive = [r for r in results if r["priority"] == "interactive"]
    bulk = [r for r in results if r["priority"] == "bulk"]
    return {
        "writes_per_s": log["admitted"] / span,
        "max_in_second": log["max_in_window"],
        "rate_limited": log["rate_limited"],
        "requests": log["requests"],
        "bulk_writes_per_s": sum(r["writes"] for r in bulk) / span,
        "interactive": interactive[0] if interactive else None,
        "failed": sum(r["failed"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default=None, help="default: a redis-server of its own")
    parser.add_argument(
        "--counts-from", default="answer,20", help="answer, or a transit allowance in ms; a list"
    )
    parser.add_argument("--latency-ms", default="0,150", help="added to each answer; a list")
    args = parser.parse_args()
    ways = [w.strip() for w in args.counts_from.split(",") if w.strip()]
    for way in ways:
        if way != "answer" and not way.isdigit():
            parser.error(f"--counts-from: {way!r} is neither 'answer' nor a number of ms")
    latencies = [float(x) for x in args.latency_ms.split(",") if x.strip()]
    redis_url, redis_process = (args.redis_url, None) if args.redis_url else own_redis()
    sandbox = AttioSandbox(api_keys=(KEY,), write_rate=BUDGET, read_rate=100.0)
    rows = []
    try:
        with serve_in_thread(sandbox.app) as server:
            for latency in latencies:
                for way in ways:
                    for name, priorities in SCENARIOS.items():
                        httpx.post(f"{server.url}/_sandbox/reset").raise_for_status()
                        httpx.post(
                            f"{server.url}/_sandbox/config", json={"latency_ms": latency}
                        ).raise_for_status()
                        result = scenario(server.url, redis_url, priorities, args.seconds, way)
                        counted = "answer" if way == "answer" else f"sent + {way} ms"
                        rows.append((f"{latency:.0f} ms | {counted} | {name}", result))
    finally:
        if redis_process is not None:
            redis_process.terminate()
    print(f"\nShared Attio write budget {BUDGET:.0f}/s, {args.seconds:.0f} s per scenario\n")
    print(
        "| latency | counts from | scenario | writes/s (of budget) | bulk writes/s "
        "| max in any rolling 1 s | 429s | interactive wait p50 / p95 / max | failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        i = r["interactive"]
        waits = (
            f"{i['wait_p50'] * 1000:.0f} / {i['wait_p95'] * 1000:.0f} / {i['wait_max'] * 1000:.0f} ms"
            if i
            else "-"
        )
        print(
            f"| {name} | {r['writes_per_s']:.1f} ({r['writes_per_s'] / BUDGET:.0%}) "
            f"| {r['bulk_writes_per_s']:.1f} | {r['max_in_second']} "
            f"| {r['rate_limited']} of {r['requests']} | {waits} | {r['failed']} |"
        )


if __name__ == "__main__":
    main()
