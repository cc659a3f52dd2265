"""Achieved Attio write rate against the budget, side by side with a naive sequential loop.

Serves the Attio sandbox on loopback with its real budget (25 writes/s) and added latency, then
  1. our client: N asserts launched at once, spaced by the shared limiter;
  2. the naive pattern: one request, then a 100 ms sleep, then the next.
Prints a markdown table of writes/s, the ratio to the budget, and 429s met.

    .venv/bin/python benchmarks/bench_attio_client.py [--writes 500] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from revops_pipelines.resources.attio import AttioClient
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread

KEY = "bench-key"
BUDGET = 25.0


async def ours(api_url: str, writes: int) -> tuple[float, int]:
    async with AttioClient.connect(api_key=KEY, base_url=api_url, write_rate=BUDGET) as attio:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                attio.records.assert_record(
                    "companies",
                    matching_attribute="domains",
                    values={"domains": [f"ours{i}.example"], "name": f"Ours {i}"},
                )
                for i in range(writes)
            )
        )
        return time.perf_counter() - started, attio.transport.retries


def naive(api_url: str, writes: int) -> tuple[float, int]:
    limited = 0
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        started = time.perf_counter()
        for i in range(writes):
            response = http.put(
                "objects/companies/records",
                params={"matching_attribute": "domains"},
                json={"data": {"values": {"domains": [f"naive{i}.example"], "name": f"N {i}"}}},
            )
            limited += response.status_code == 429
            time.sleep(0.1)
        return time.perf_counter() - started, limited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--naive-writes", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()

    sandbox = AttioSandbox(api_keys=(KEY,), write_rate=BUDGET, latency_ms=args.latency_ms)
    with serve_in_thread(sandbox.app) as server:
        api_url = f"{server.url}/v2"
        ours_seconds, ours_retries = asyncio.run(ours(api_url, args.writes))
        time.sleep(1.1)  # let the sandbox's window empty between the two runs
        naive_seconds, naive_429 = naive(api_url, args.naive_writes)
        rate_limited = sandbox.stats()["rate_limited"]

    rows = [
        (
            "revops AttioClient (concurrent, shared limiter)",
            args.writes,
            ours_seconds,
            ours_retries,
        ),
        ("naive loop (request, then sleep 100 ms)", args.naive_writes, naive_seconds, naive_429),
    ]
    print(f"Budget {BUDGET:g} writes/s, {args.latency_ms:g} ms added latency per request.\n")
    print("| pattern | writes | seconds | writes/s | ratio to budget | 429s / retries |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, seconds, trouble in rows:
        rate = count / seconds
        print(
            f"| {name} | {count} | {seconds:.2f} | {rate:.1f} | {rate / BUDGET:.2f} | {trouble} |"
        )
    print(f"\nsandbox 429 answers in total: {rate_limited}")


if __name__ == "__main__":
    main()
