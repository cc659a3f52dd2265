"""Company sync throughput against Attio's write budget, and writes on a re-run.

Serves the Attio sandbox on loopback with the real budget (25 writes/s, 100 reads/s) and added
latency, syncs N changed companies through `run_company_sync` (SQLite store), then times the
naive pattern (one request, then a 100 ms sleep) on the same sandbox, and finally re-runs the sync
with 1% of the accounts changed.

    .venv/bin/python benchmarks/bench_company_sync.py [--companies 2000] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_mapping import synthetic_accounts

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.services.company_sync.sync import run_company_sync
from revops_pipelines.store.resource import RevopsDatabase
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread

KEY = "bench-key"
BUDGET = 25.0


def accounts(count: int) -> pd.DataFrame:
    frame = synthetic_accounts(count, seed=1)
    frame["Website"] = [f"company{i}.example" for i in range(count)]  # one domain each
    frame["Name"] = [f"Company {i}" for i in range(count)]
    frame["IsDeleted"] = False
    return frame


def naive(api_url: str, writes: int) -> float:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        started = time.perf_counter()
        for i in range(writes):
            http.put(
                "objects/companies/records",
                params={"matching_attribute": "domains"},
                json={"data": {"values": {"domains": [f"naive{i}.example"], "name": f"N {i}"}}},
            ).raise_for_status()
            time.sleep(0.1)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2000)
    parser.add_argument("--naive-writes", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    mapping = load_model(config_path("field_mapping.yaml"), FieldMapping)
    sandbox = AttioSandbox(
        api_keys=(KEY,), write_rate=BUDGET, read_rate=100.0, latency_ms=args.latency_ms
    )
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(sandbox.app) as server:
        attio = AttioResource(api_key=KEY, base_url=f"{server.url}/v2")
        database = RevopsDatabase(url=f"sqlite:///{Path(tmp) / 'bench.db'}")
        frame = accounts(args.companies)

        started = time.perf_counter()
        first = asyncio.run(
            run_company_sync(
                map_accounts(frame, mapping),
                mapping,
                attio=attio,
                database=database,
                run_id="bench-1",
            )
        )
        sync_seconds = time.perf_counter() - started
        written = sum(1 for o in first.outcomes if o.status == "ok")
        limited_sync = sandbox.stats()["rate_limited"]

        time.sleep(1.1)
        naive_seconds = naive(f"{server.url}/v2", args.naive_writes)

        changed = max(1, args.companies // 100)
        frame.loc[: changed - 1, "Name"] = frame.loc[: changed - 1, "Name"] + " (renamed)"
        before = sandbox.stats()["writes_applied"]
        asyncio.run(
            run_company_sync(
                map_accounts(frame, mapping),
                mapping,
                attio=attio,
                database=database,
                run_id="bench-2",
            )
        )
        rerun_writes = sandbox.stats()["writes_applied"] - before

    print(f"Attio sandbox: budget {BUDGET:g} writes/s, {args.latency_ms:g} ms added latency.\n")
    print("| pattern | companies written | seconds | writes/s | ratio to budget |")
    print("|---|---:|---:|---:|---:|")
    rate = written / sync_seconds
    print(
        f"| run_company_sync (concurrent, shared limiter) | {written} | {sync_seconds:.1f} | {rate:.1f} | {rate / BUDGET:.2f} |"
    )
    naive_rate = args.naive_writes / naive_seconds
    print(
        f"| naive loop (request, then sleep 100 ms) | {args.naive_writes} | {naive_seconds:.1f} | {naive_rate:.1f} | {naive_rate / BUDGET:.2f} |"
    )
    print(f"\n429 answers during the sync: {limited_sync} (each retried after its Retry-After)")
    print(
        f"re-run with {changed} of {args.companies} accounts changed: {rerun_writes} Attio writes "
        f"(writes / changed rows = {rerun_writes / changed:.2f})"
    )


if __name__ == "__main__":
    main()
