"""Leads per second through the whole inbound flow, against the bound Attio's budget sets.

Serves every sandbox on loopback (Attio at its real 25 writes/s and 100 reads/s with 30 ms
latency), posts N signed Typeform submissions to the receiver, then runs `inbound_leads_job`
over the backlog and measures: leads/s, Attio writes per lead (counted by the sandbox), the bound
25 / (writes per lead), the ratio, and the latency from the webhook being stored to the audit note
being written (p50/p99). Run twice: without Slack, and with Slack (~1 message/s per channel).

    .venv/bin/python benchmarks/bench_lead_flow.py [--leads 60]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import dagster as dg
import httpx

from revops_pipelines.definitions import defs
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY, EnrichmentSandbox
from revops_sandbox.form_traffic import typeform_delivery
from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN, OutreachSandbox
from revops_sandbox.server import serve_in_thread
from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox

BUDGET = 25.0
SECRET = "bench-secret"


def _parse(ts: str) -> float:
    head, _, tail = ts.partition(".")
    return datetime.fromisoformat(f"{head}.{tail.rstrip('Z')[:6]}+00:00").timestamp()


def measure(leads: int, with_slack: bool, latency_ms: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        attio = AttioSandbox(
            api_keys=("bench-key",), write_rate=BUDGET, read_rate=100.0, latency_ms=latency_ms
        )
        slack, outreach, enrichment = SlackSandbox(), OutreachSandbox(), EnrichmentSandbox()
        urls = {
            name: stack.enter_context(serve_in_thread(app)).url
            for name, app in (
                ("attio", attio.app),
                ("slack", slack.app),
                ("outreach", outreach.app),
                ("enrichment", enrichment.app),
            )
        }
        receiver = stack.enter_context(
            serve_in_thread(
                create_app(ReceiverSettings(database_url=db_url, secrets={"typeform": SECRET}))
            )
        )
        os.environ.update(
            {
                "ATTIO_API_KEY": "bench-key",
                "ATTIO_BASE_URL": f"{urls['attio']}/v2",
                store_engine.DATABASE_URL_ENV: db_url,
            }
        )
        resources = {
            "database": RevopsDatabase(url=db_url),
            "slack": SlackResource(
                token=SLACK_SANDBOX_TOKEN if with_slack else None, base_url=f"{urls['slack']}/api/"
            ),
            "outreach": OutreachResource(
                access_token=OUTREACH_SANDBOX_TOKEN,
                base_url=f"{urls['outreach']}/api/v2",
                mailbox_id="1",
            ),
            "enrichment": EnrichmentResource(
                api_key=ENRICHMENT_SANDBOX_KEY, base_url=urls["enrichment"], database_url=db_url
            ),
        }
        rng = random.Random(1)
        with httpx.Client(base_url=receiver.url) as client:
            for _ in range(leads):
                d = typeform_delivery(SECRET, rng)
                client.post(
                    "/webhooks/typeform", content=d.body, headers=d.headers
                ).raise_for_status()
        engine = store_engine.get_engine(db_url)
        received = {
            r.ref: r.received_at.timestamp() for r in inbox.get_rows(engine, range(1, leads + 1))
        }
        job = defs.resolve_job_def("inbound_leads_job")
        config = {"ops": {"form_submissions": {"config": {"inbox_ids": [], "limit": leads}}}}
        with dg.instance_for_test() as instance:
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=config, instance=instance, resources=resources
            )
            seconds = time.perf_counter() - started
        assert result.success, "the benchmark run failed"
        done = inbox.count_by_status(engine, ["typeform"])["done"]
        writes = attio.stats()["writes_applied"]
        written = {n["title"]: _parse(n["created_at"]) for n in attio.notes()}
        latencies = []
        for lead in result.output_for_node("inbound_leads"):
            title = f"Inbound lead workflow ({lead.key})"
            if title in written:
                latencies.append(written[title] - received[lead.raw_ref])
        per_lead = writes / done
        bound = BUDGET / per_lead
        return {
            "leads": done,
            "seconds": seconds,
            "leads_per_s": done / seconds,
            "writes_per_lead": per_lead,
            "bound": bound,
            "ratio": done / seconds / bound,
            "p50": statistics.median(latencies),
            "p99": sorted(latencies)[max(0, int(len(latencies) * 0.99) - 1)],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    print(
        f"{args.leads} leads; Attio sandbox at {BUDGET:g} writes/s, {args.latency_ms:g} ms latency.\n"
    )
    print(
        "| run | leads/s | Attio writes per lead | bound (25 / writes) | ratio to bound | webhook → note p50 s | p99 s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, with_slack in (("Attio, Outreach, enrichment", False), ("… and Slack", True)):
        m = measure(args.leads, with_slack, args.latency_ms)
        print(
            f"| {label} | {m['leads_per_s']:.2f} | {m['writes_per_lead']:.1f} | {m['bound']:.2f} | {m['ratio']:.2f} | {m['p50']:.1f} | {m['p99']:.1f} |"
        )


if __name__ == "__main__":
    main()
