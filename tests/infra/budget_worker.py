"""One OS process drawing from the shared Attio budget: it creates companies in the Attio
sandbox through the real `AttioClient` for a while and prints a JSON summary on stdout.

    python -m tests.infra.budget_worker --api-url URL --priority bulk --seconds 6

The budget's backend comes from the environment like in production (`REDIS_URL`, else
`REVOPS_DATABASE_URL`, `REVOPS_RATE_BUDGET_PREFIX`, ...), and the definitions are loaded as in a
run, which registers the store's budget. Used by tests/infra/test_shared_budget.py and
benchmarks/bench_shared_budget.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid

import revops_pipelines.definitions  # noqa: F401  (registers the store's budget, as in a run)
from revops_pipelines.infra.retry import RetrySettings
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError


async def run(args: argparse.Namespace) -> dict[str, object]:
    client = AttioClient.connect(
        api_key=args.key,
        base_url=args.api_url,
        write_rate=args.rate,
        retry=RetrySettings(max_attempts=8, max_total_wait_seconds=30),
        max_concurrency=args.concurrency,
        priority=args.priority,
    )
    tag = uuid.uuid4().hex[:8]
    done, failed, waits, latencies = 0, 0, [], []
    budget = client.transport._budget
    # Reach the budget's store before the start, as a run has by its first request: the drawing
    # measures the budget, not a process's first connection (and, on a database, its migration
    # check).
    await budget.acquire("read")
    print(json.dumps({"ready": True}), flush=True)
    if args.wait_go:
        sys.stdin.readline()  # every process starts drawing at the same moment
    deadline = time.monotonic() + args.seconds

    async def one(i: int) -> None:
        nonlocal done, failed
        started = time.monotonic()
        try:
            await client.transport.write_data(
                "POST",
                "objects/companies/records",
                {"values": {"name": f"{args.priority} {tag} {i}"}},
                idempotent=False,
            )
            done += 1
        except AttioError:
            failed += 1
        latencies.append(time.monotonic() - started)
        waits.append(client.transport.budget_waits[-1] if client.transport.budget_waits else 0.0)

    async def lane(lane_id: int) -> None:
        i = 0
        while time.monotonic() < deadline and (not args.count or done + failed < args.count):
            await one(lane_id * 1_000_000 + i)
            i += 1
            if args.interval:
                await asyncio.sleep(args.interval)

    modes: list[str] = []

    async def watch_mode() -> None:
        while time.monotonic() < deadline:
            if not modes or modes[-1] != budget.mode():
                modes.append(budget.mode())
            await asyncio.sleep(0.05)

    started = time.monotonic()
    await asyncio.gather(watch_mode(), *(lane(n) for n in range(args.lanes)))
    elapsed = time.monotonic() - started
    await client.aclose()
    ordered = sorted(waits)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

    return {
        "priority": args.priority,
        "writes": done,
        "failed": failed,
        "seconds": elapsed,
        "requests_sent": client.transport.requests_sent,
        "retries": client.transport.retries,
        "wait_p50": pct(0.5),
        "wait_p95": pct(0.95),
        "wait_max": ordered[-1] if ordered else 0.0,
        "latency_p50": statistics.median(latencies) if latencies else 0.0,
        "modes": modes,
        "counts_from": budget.state()["counts_from"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--key", default="sandbox-attio-key")
    parser.add_argument("--priority", choices=["interactive", "bulk"], default="bulk")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--count", type=int, default=0, help="stop after this many writes")
    parser.add_argument("--lanes", type=int, default=16, help="requests in flight")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--interval", type=float, default=0.0, help="pause per lane request")
    parser.add_argument("--rate", type=float, default=25.0, help="writes/s of the budget")
    parser.add_argument("--wait-go", action="store_true", help="start on a line on stdin")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
