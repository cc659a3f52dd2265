"""Prometheus metrics of the receiver, served at `GET /metrics` in the text exposition format.

| metric | type | labels |
|---|---|---|
| `revops_webhook_requests_total` | counter | `source`, `status` (HTTP code) |
| `revops_webhook_signature_failures_total` | counter | `source`, `reason` (`missing`, `invalid`) |
| `revops_webhook_request_duration_seconds` | histogram | `source` |
| `revops_webhook_inbox_rows` | gauge | `status`: pending, processing, failed, quarantined |
| `revops_webhook_inbox_oldest_pending_age_seconds` | gauge | (0 when nothing is pending) |
| `revops_webhook_inbox_scrape_ok` | gauge | 1 when the inbox could be read for this scrape |

Each app has its own `CollectorRegistry`, so two receivers in one process (the tests, the demo)
count apart. Counters and the histogram are in-process and cheap on the request path; the inbox
gauges are read from the store only when Prometheus scrapes, by a custom collector.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from revops_pipelines.store.inbox_queries import inbox_depth
from revops_pipelines.webhooks.logs import log_event
from revops_pipelines.webhooks.sources import SOURCES

# The source label comes from the URL path: anything not a known source is counted as "unknown",
# so random paths cannot create unbounded series.
UNKNOWN_SOURCE = "unknown"
# Webhook answers are milliseconds when healthy; the top buckets catch a slow store.
SIGNATURE_FAILURES = {"missing_signature": "missing", "invalid_signature": "invalid"}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_Children = tuple[Counter, Histogram, Counter | None]


class InboxCollector(Collector):
    """Inbox depth by status and the age of the oldest pending row, read at scrape time."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterator[Metric]:
        """The names, for the registry's duplicate check, without querying the store."""
        yield GaugeMetricFamily("revops_webhook_inbox_scrape_ok", "")
        yield GaugeMetricFamily("revops_webhook_inbox_rows", "", labels=["status"])
        yield GaugeMetricFamily("revops_webhook_inbox_oldest_pending_age_seconds", "")

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "revops_webhook_inbox_scrape_ok", "1 if the inbox could be read for this scrape."
        )
        try:
            depth = inbox_depth(self._engine)
        except Exception as exc:  # a store outage must not fail the request counters' scrape
            log_event(logging.WARNING, "metrics: inbox unreadable", exception=type(exc).__name__)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        rows = GaugeMetricFamily(
            "revops_webhook_inbox_rows", "Webhook inbox rows by status.", labels=["status"]
        )
        for status, count in depth.by_status.items():
            rows.add_metric([status], count)
        yield rows
        oldest = depth.oldest_pending_received_at
        age = max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily(
            "revops_webhook_inbox_oldest_pending_age_seconds",
            "Seconds since the oldest pending inbox row arrived (0 when none is pending).",
            value=age,
        )


class ReceiverMetrics:
    """The receiver's registry and instruments; `observe` is called once per answered request."""

    def __init__(self, engine: sa.Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "revops_webhook_requests",
            "Webhook requests answered, by source and HTTP status.",
            ["source", "status"],
            registry=self.registry,
        )
        self.signature_failures = Counter(
            "revops_webhook_signature_failures",
            "Deliveries refused for a missing or invalid signature, by source.",
            ["source", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "revops_webhook_request_duration_seconds",
            "Time from a request's arrival to its answer, by source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        for name in SOURCES:  # known series start at 0, so rate() sees their first failure
            for reason in SIGNATURE_FAILURES.values():
                self.signature_failures.labels(name, reason)
        self.registry.register(InboxCollector(engine))

        # The labelled children per (source, status, error), so the request path skips
        # `labels()`; bounded: the source is clamped and statuses and errors are a short list.
        self._children: dict[tuple[str, int, str | None], _Children] = {}

    def observe(self, source: str, status: int, seconds: float, error: str | None) -> None:
        children = self._children.get((source, status, error))
        if children is None:
            children = self._labelled(source, status, error)
        requests, latency, signature_failures = children
        requests.inc()
        latency.observe(seconds)
        if signature_failures is not None:
            signature_failures.inc()

    def _labelled(self, source: str, status: int, error: str | None) -> _Children:
        label = source if source in SOURCES else UNKNOWN_SOURCE
        reason = SIGNATURE_FAILURES.get(error or "")
        children = (
            self.requests.labels(label, str(status)),
            self.latency.labels(label),
            self.signature_failures.labels(label, reason) if reason else None,
        )
        if label != UNKNOWN_SOURCE:  # unknown names are many: look those up each time
            self._children[(source, status, error)] = children
        return children

    async def endpoint(self, request: Request) -> Response:
        # The format follows the scraper's Accept header (Prometheus 2 text, 3 text, OpenMetrics).
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        # The inbox collector queries the store: off the event loop, like every other query.
        body = await run_in_threadpool(encode, self.registry)
        return Response(body, headers={"content-type": content_type})
