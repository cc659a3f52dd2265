"""Benchmark: signed Typeform posts per second stored durably in PostgreSQL, vs a bare endpoint.

Both servers run the same way (uvicorn, one process each, loopback only); a keep-alive asyncio
client with `--concurrency` connections posts the documented Typeform example, each with a fresh
`event_id` and a valid `Typeform-Signature`, for `--seconds` (capped at `--max-requests`) after a
short warm-up. The receiver verifies, parses and inserts every post into a fresh PostgreSQL
database (committed, `synchronous_commit` as configured on the server) and logs a JSON line per
request; the bare endpoint reads the body and answers 200. Prints a markdown table with posts/s and
p50/p99 latency of both, and their ratio; checks that every 202 is a row in the database.

    .venv/bin/python benchmarks/bench_receiver.py [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "typeform_example.json"
ADMIN_URL = os.environ.get(
    "REVOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-typeform-secret"


def _serve(kind: str, db_url: str, ports: mp.Queue) -> None:
    """Child process: serve the real receiver or the bare endpoint on a loopback port."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from revops_pipelines.webhooks.app import create_app
    from revops_pipelines.webhooks.logs import JsonFormatter
    from revops_pipelines.webhooks.settings import ReceiverSettings
    from revops_sandbox.server import bind_socket

    if kind == "receiver":
        handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
        handler.setFormatter(JsonFormatter())
        logging.getLogger().handlers[:] = [handler]
        logging.getLogger().setLevel(logging.INFO)  # the per-request log line is part of the cost
        app = create_app(ReceiverSettings(db_url, secrets={"typeform": SECRET}))
    else:

        async def bare(request: Request) -> Response:
            await request.body()
            return Response(b'{"status":"ok"}', media_type="application/json")

        app = Starlette(routes=[Route("/webhooks/typeform", bare, methods=["POST"])])
    sock = bind_socket("127.0.0.1", 0)
    ports.put(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def row(self, name: str) -> tuple[str, int, float, float, float, str]:
        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        ms = sorted(x * 1000 for x in self.latencies)
        p50 = statistics.median(ms) if ms else float("nan")
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")
        codes = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return name, ok, ok / self.elapsed, p50, p99, codes


def _request(port: int, n: int, template: dict) -> bytes:
    from revops_pipelines.webhooks.sources import sign_typeform

    template["event_id"] = f"bench-{uuid.uuid4().hex}-{n}"
    body = json.dumps(template).encode()
    head = (
        f"POST /webhooks/typeform HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nTypeform-Signature: {sign_typeform(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(port: int, deadline: float, budget: list[int], stats: Stats) -> None:
    template = json.loads(FIXTURE.read_text())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            payload = _request(port, budget[0], template)
            started = time.perf_counter()
            writer.write(payload)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            stats.latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, seconds: float, concurrency: int, max_requests: int) -> Stats:
    stats = Stats()
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(port, deadline, budget, stats) for _ in range(concurrency)))
    stats.elapsed = time.perf_counter() - started
    return stats


def _measure(kind: str, db_url: str, args: argparse.Namespace) -> Stats:
    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(kind, db_url, ports), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        asyncio.run(_load(port, args.warmup, args.concurrency, args.max_requests))
        return asyncio.run(_load(port, args.seconds, args.concurrency, args.max_requests))
    finally:
        server.terminate()
        server.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap per phase")
    args = parser.parse_args()

    name = f"revops_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        sync_commit = conn.execute(sa.text("SHOW synchronous_commit")).scalar_one()
    db_url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        from revops_pipelines.store import engine as store_engine

        store_engine.upgrade(db_url)
        bare = _measure("bare", db_url, args)
        real = _measure("receiver", db_url, args)
        with sa.create_engine(db_url).connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM webhook_inbox")).scalar_one()
        store_engine.dispose_all()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    rows = [
        bare.row("bare endpoint (200, no work)"),
        real.row("receiver: verify + store in PostgreSQL"),
    ]
    print(
        f"\nloopback, {args.concurrency} keep-alive connections, {args.seconds:g} s each, "
        f"{os.cpu_count()} CPUs, PostgreSQL synchronous_commit={sync_commit}\n"
    )
    print("| endpoint | 2xx answered | posts/s | p50 ms | p99 ms | status codes |")
    print("|---|---:|---:|---:|---:|---|")
    for label, ok, rate, p50, p99, codes in rows:
        print(f"| {label} | {ok} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {codes} |")
    ratio = rows[1][2] / rows[0][2]
    print(f"\nreceiver / bare throughput: {ratio:.1%}; rows stored (incl. warm-up): {stored}")
    if stored < rows[1][1]:
        raise SystemExit(f"only {stored} rows stored for {rows[1][1]} answers of 202")


if __name__ == "__main__":
    main()
