"""The Attio event dispatch table, the per-record fetch collapse, merge/delete planning, and the
deal notification's pure parts (decision, key, currency, Block Kit, note)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from revops_pipelines.domain.attio_events import (
    DISPATCH,
    NormalizedEvent,
    dedupe_events,
    deleted_record_ids,
    handler_for,
    merge_repoints,
    parse_delivery,
    records_to_fetch,
    route_events,
)
from revops_pipelines.domain.deal_messages import (
    BIG_NEW,
    WON,
    DealNotificationConfig,
    deal_blocks,
    deal_facts,
    format_currency,
    notification_due,
    notification_note,
    transition_key,
)
from revops_pipelines.domain.messages import block_kit_errors
from revops_pipelines.services.attio_events.handlers import AttioEventHandlers


def _events(*raw: dict[str, Any]) -> list[NormalizedEvent]:
    import json

    return dedupe_events(parse_delivery(json.dumps({"events": list(raw)}).encode(), inbox_id=1))


def _rec(event_type: str, record: str, attribute: str | None = None, **extra: Any) -> dict:
    ids = {"workspace_id": "w", "object_id": extra.pop("object_id", "deals"), "record_id": record}
    if attribute:
        ids["attribute_id"] = attribute
    return {"event_type": event_type, "id": ids, **extra}


@pytest.mark.parametrize(
    ("event_type", "handler"),
    [
        ("record.created", "record_created"),
        ("record.updated", "record_updated"),
        ("record.deleted", "record_deleted"),
        ("record.merged", "record_merged"),
        ("list-entry.updated", "list_entry"),
        ("note.created", "note"),
        ("note-content.updated", "note"),
        ("task.deleted", "task"),
        ("comment.created", "comment"),  # issue 14: comments set the parent's last activity
        ("comment.resolved", "comment"),
        ("call-recording.created", None),
        ("record.exploded", None),
    ],
)
def test_dispatch_table(event_type: str, handler: str | None) -> None:
    assert handler_for(event_type) == handler


def test_every_handler_name_in_the_table_has_a_handler() -> None:
    handlers = AttioEventHandlers(None, None, None, DealNotificationConfig())  # type: ignore[arg-type]
    grouped = [name for names, _ in handlers.handlers for name in names]
    assert sorted(grouped) == sorted(set(DISPATCH.values()))
    assert grouped.index("record_merged") < grouped.index("record_deleted")


def test_route_keeps_order_and_collects_unknown_types() -> None:
    events = _events(
        _rec("record.updated", "r1", "a"),
        {"event_type": "call-recording.created", "id": {"workspace_id": "w", "call_id": "c"}},
        _rec("record.created", "r2"),
        _rec("record.updated", "r2", "b"),
    )
    routed = route_events(events)
    assert [e.record_id for e in routed.events("record_updated")] == ["r1", "r2"]
    assert [e.record_id for e in routed.events("record_created")] == ["r2"]
    assert [e.event_type for e in routed.unknown] == ["call-recording.created"]
    assert routed.events("task") == []


def test_a_burst_and_a_create_of_one_record_collapse_into_one_fetch() -> None:
    events = _events(
        _rec("record.created", "r1"),
        _rec("record.updated", "r1", "stage"),
        _rec("record.updated", "r1", "value"),
        _rec("record.updated", "r1", "stage", actor={"type": "system", "id": None}),
        _rec("record.updated", "r2", "name"),
        _rec("record.updated", "c1", "name", object_id="companies"),
        _rec("record.deleted", "r3"),
    )
    changes = records_to_fetch(events)
    assert [(c.object_id, c.record_id) for c in changes] == [
        ("deals", "r1"),
        ("deals", "r2"),
        ("companies", "c1"),
    ]
    assert changes[0].created and changes[0].attribute_ids == ("stage", "value")
    assert not changes[1].created
    assert [c.record_id for c in records_to_fetch(events, object_ids=["deals"])] == ["r1", "r2"]


def test_merges_repoint_originals_to_the_new_record_and_deletions_are_listed_once() -> None:
    events = _events(
        _rec("record.merged", "new", duplicate_object_id="deals", duplicate_record_id="a"),
        _rec("record.merged", "new", duplicate_object_id="deals", duplicate_record_id="b"),
        _rec("record.merged", "new", duplicate_object_id="deals", duplicate_record_id="b"),
        _rec("record.merged", "x"),  # no duplicate named: nothing to repoint
        _rec("record.deleted", "d"),
        _rec("record.deleted", "d"),
    )
    assert merge_repoints(events) == [("a", "new"), ("b", "new")]
    assert deleted_record_ids(events) == ["d"]


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        (125000, "USD", "$125,000"),
        (Decimal("1234.5"), "EUR", "€1,234.50"),
        ("99.999", "GBP", "£100"),
        (0.125, "USD", "$0.13"),
        (-5000, "USD", "-$5,000"),
        (1500000.4, "JPY", "¥1,500,000"),
        (99, "chf", "99 CHF"),
        (1234.5, None, "1,234.50"),
        (None, "USD", "—"),
        ("not a number", "USD", "—"),
        (float("nan"), "USD", "—"),
    ],
)
def test_format_currency(amount: Any, code: str | None, text: str) -> None:
    assert format_currency(amount, code) == text


def _deal(stage: str | None = "Won", value: float | None = 125000.0) -> dict[str, Any]:
    def active(**fields: Any) -> dict[str, Any]:
        return {"active_from": "2026-11-20T10:00:00.000000000Z", "active_until": None, **fields}

    values: dict[str, Any] = {
        "name": [active(value="Rocket <fuel>")],
        "associated_company": [active(target_object="companies", target_record_id="c1")],
        "owner": [active(referenced_actor_type="workspace-member", referenced_actor_id="m1")],
        "stage": [active(status={"title": stage})] if stage else [],
        "value": [active(currency_value=value, currency_code="USD")] if value is not None else [],
    }
    return {
        "id": {"workspace_id": "w", "object_id": "deals", "record_id": "d1"},
        "web_url": "https://app.attio.com/x/deals/d1",
        "values": values,
    }


CONFIG = DealNotificationConfig(big_new_deal_threshold=Decimal(100000))


def test_deal_facts_and_which_notification_is_due() -> None:
    facts = deal_facts(_deal())
    assert (facts.name, facts.stage, facts.value, facts.currency) == (
        "Rocket <fuel>",
        "Won",
        Decimal("125000.0"),
        "USD",
    )
    assert (facts.company_id, facts.owner_id) == ("c1", "m1")
    assert notification_due(facts, CONFIG, created=False) == WON
    assert notification_due(deal_facts(_deal("Lead")), CONFIG, created=True) == BIG_NEW
    assert notification_due(deal_facts(_deal("Lead")), CONFIG, created=False) is None
    small = deal_facts(_deal("Lead", 99999.99))
    assert notification_due(small, CONFIG, created=True) is None
    assert (
        notification_due(deal_facts(_deal("Lead")), DealNotificationConfig(), created=True) is None
    )
    assert deal_facts(_deal(None, None)).stage is None


def test_transition_keys_are_per_deal_transition() -> None:
    facts = deal_facts(_deal())
    assert transition_key(WON, facts) == "deal:d1:won:2026-11-20T10:00:00.000000000Z"
    assert transition_key(BIG_NEW, facts) == "deal:d1:big_new"


def test_deal_blocks_are_valid_block_kit_and_escape_user_text() -> None:
    text, blocks = deal_blocks(WON, deal_facts(_deal()), company="A&B <Ltd>", owner="Ann Lee")
    assert text == "Deal won: Rocket &lt;fuel&gt; ($125,000) · A&amp;B &lt;Ltd&gt;"
    assert block_kit_errors(blocks) == []
    assert blocks[0]["text"]["text"] == "Deal won"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[:3] == [
        "*Value:*\n$125,000",
        "*Company:*\nA&amp;B &lt;Ltd&gt;",
        "*Owner:*\nAnn Lee",
    ]
    assert blocks[-1]["elements"][0]["url"] == "https://app.attio.com/x/deals/d1"


def test_the_note_names_the_channel_and_the_time_sent() -> None:
    title, body = notification_note(WON, deal_facts(_deal()), "#sales-wins", "1795300620.313482")
    assert title.startswith("Notification sent: deal won (d1 since 2026-11-20")
    assert "- Channel: #sales-wins" in body
    assert "2026-11-21 22:37:00 UTC (Slack ts 1795300620.313482)" in body
