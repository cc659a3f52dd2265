"""A run's batch of Attio webhook deliveries: claimed from the inbox, parsed, deduplicated and
handled, with the two-way write-back to Salesforce when Salesforce is configured.

Deliveries that cannot be parsed are quarantined with the reason. Every event is handled before
the report tells of errors, so one failed notification does not stop the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from revops_pipelines.domain.attio_events import (
    AttioEvent,
    AttioEventParseError,
    NormalizedEvent,
    dedupe_events,
    parse_delivery,
)
from revops_pipelines.domain.deal_messages import DealNotificationConfig
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.pipeline_rules import PipelineRules
from revops_pipelines.domain.routing_config import RoutingConfig
from revops_pipelines.resources.attio import AttioClient
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.attio_events.handlers import AttioEventHandlers, HandlingReport
from revops_pipelines.services.inbox import DEFAULT_BATCH_LIMIT, InboxRun
from revops_pipelines.services.two_way import TwoWayWriteBack, WriteBackReport

ATTIO_SOURCES = ("attio",)


@dataclass
class AttioEventsBatch:
    deliveries: int
    events: list[AttioEvent]
    normalized: list[NormalizedEvent]
    quarantined: list[tuple[int, str, str]]  # (inbox id, event id, reason)
    handling: HandlingReport
    write_back: WriteBackReport | None  # None when write-back is off
    write_back_problem: str | None = None  # why it is off
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> list[str]:
        back = self.write_back.errors if self.write_back is not None else []
        return self.handling.errors + back


def parse_batch(
    run: InboxRun, ids: Sequence[int] = (), limit: int = DEFAULT_BATCH_LIMIT
) -> tuple[int, list[AttioEvent], list[tuple[int, str, str]]]:
    """Claim the run's Attio rows and parse every element of each delivery's `events[]`:
    (deliveries claimed, events, quarantined rows)."""
    rows = run.claim(ATTIO_SOURCES, ids, limit)
    events: list[AttioEvent] = []
    quarantined: list[tuple[int, str, str]] = []
    for row in rows:
        try:
            events.extend(parse_delivery(row.body, inbox_id=row.id))
        except AttioEventParseError as exc:
            run.quarantine(row.id, str(exc), event_id=row.event_id, source=row.source)
            quarantined.append((row.id, row.event_id, str(exc)))
    return len(rows), events, quarantined


async def handle_attio_events(
    client: AttioClient,
    engine: sa.Engine,
    run: InboxRun,
    *,
    slack: SlackResource,
    salesforce: SalesforceResource,
    deals: DealNotificationConfig,
    mapping: FieldMapping,
    ids: Sequence[int] = (),
    limit: int = DEFAULT_BATCH_LIMIT,
    log: Any = None,
    pipelines: PipelineRules | None = None,
    routing: RoutingConfig | None = None,
) -> AttioEventsBatch:
    """Claim, parse, deduplicate (per-attribute `record.updated` events and redeliveries of one
    change become one normalized event) and handle each event type through its handler."""
    deliveries, events, quarantined = parse_batch(run, ids, limit)
    normalized = dedupe_events(events)
    problem = salesforce.configuration_problem()
    write_back = None
    if problem is None:
        write_back = TwoWayWriteBack(
            client, engine, salesforce, mapping, run_id=run.run_id, log=log
        )
    handlers = AttioEventHandlers(
        client,
        engine,
        slack,
        deals,
        log=log,
        write_back=write_back,
        pipelines=pipelines,
        routing=routing,
    )
    report = await handlers.handle(normalized)
    return AttioEventsBatch(
        deliveries=deliveries,
        events=events,
        normalized=normalized,
        quarantined=quarantined,
        handling=report,
        write_back=write_back.report if write_back is not None else None,
        write_back_problem=problem,
        by_type=Counter(e.event_type for e in normalized),
    )
