"""The product-usage rollup: Segment track events per person and company, as of a day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from revops_pipelines.domain.usage import (
    TrackEvent,
    UsageEventError,
    UsageSummary,
    dedupe,
    parse_track,
    rollup,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "segment_track.json"
AS_OF = date(2026, 11, 20)


def ev(
    message_id: str, event: str, when: str, email: str | None = "ana@acme.example"
) -> TrackEvent:
    domain = email.split("@")[1] if email and not email.endswith("gmail.com") else None
    stamp = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return TrackEvent(message_id, event, stamp, email, domain)


def test_parse_the_segment_fixture() -> None:
    event = parse_track(FIXTURE.read_bytes())
    assert event == TrackEvent(
        message_id="ajs-next-69f8a1c4e0b14f3d9d1c2e7a5b6c8d90",
        event="Report Exported",
        timestamp=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        email="ana@acme.example",
        company_domain="acme.example",
    )


def test_free_mail_has_no_company_and_an_explicit_domain_wins() -> None:
    body = {
        "type": "track",
        "event": "Login",
        "messageId": "m1",
        "timestamp": "2026-11-20T10:00:00+01:00",
        "userId": " Bob@Gmail.com ",
    }
    event = parse_track(json.dumps(body).encode())
    assert event is not None
    assert (event.email, event.company_domain) == ("bob@gmail.com", None)
    assert event.timestamp == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    body["properties"] = {"company_domain": "https://www.Initech.example/"}
    assert parse_track(json.dumps(body).encode()).company_domain == "initech.example"  # type: ignore[union-attr]


def test_other_types_are_ignored_and_broken_events_rejected() -> None:
    assert parse_track(b'{"type": "identify", "userId": "u1"}') is None
    with pytest.raises(UsageEventError, match="not JSON"):
        parse_track(b"{nope")
    with pytest.raises(UsageEventError, match="messageId"):
        parse_track(b'{"type": "track", "event": "X", "timestamp": "2026-11-20T00:00:00Z"}')
    with pytest.raises(UsageEventError, match="time zone"):
        parse_track(b'{"type":"track","event":"X","messageId":"m","timestamp":"2026-11-20T00:00"}')


def test_repeated_message_ids_count_once() -> None:
    events = [ev("m1", "Login", "2026-11-20T09:00:00")] * 3 + [
        ev("m2", "Login", "2026-11-19T09:00:00")
    ]
    assert len(dedupe(events)) == 2
    summary = rollup(events, AS_OF)[("people", "ana@acme.example")]
    assert summary.active_days_30 == 2
    assert summary.top_events == ("Login",)
    # the same event twice must not outrank an event that really happened twice
    events += [ev("m3", "Export", "2026-11-18T09:00:00"), ev("m4", "Export", "2026-11-18T10:00:00")]
    events += [ev("m3", "Export", "2026-11-18T09:00:00")]
    assert rollup(events, AS_OF)[("people", "ana@acme.example")].top_events == ("Export", "Login")


def test_windows_top_events_and_last_seen() -> None:
    events = [
        ev("a", "Login", "2026-11-20T23:59:59"),  # the as-of day's last second
        ev("b", "Login", "2026-11-14T00:00:00"),  # 7th day back: inside the 7-day window
        ev("c", "Export", "2026-11-13T12:00:00"),  # 8th day back: 30-day window only
        ev("d", "Export", "2026-10-22T00:00:00"),  # 30th day back: inside
        ev("e", "Invite", "2026-10-21T23:00:00"),  # 31st day back: outside
        ev("f", "Invite", "2026-11-21T00:00:00"),  # after the as-of day: outside
        ev("g", "Search", "2026-11-15T00:00:00"),
        ev("h", "Alpha", "2026-11-15T01:00:00"),
        ev("i", "Login", "2026-11-20T08:00:00", email="zed@gmail.com"),
    ]
    summaries = rollup(events, AS_OF)
    ana = summaries[("people", "ana@acme.example")]
    assert ana == UsageSummary(
        last_seen_at=datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC),
        active_days_7=3,  # 20th, 15th, 14th
        active_days_30=5,  # + 13th, 22 Oct
        top_events=("Export", "Login", "Alpha"),  # ties by name
    )
    assert summaries[("companies", "acme.example")] == ana
    assert ("people", "zed@gmail.com") in summaries
    assert ("companies", "gmail.com") not in summaries
    assert set(summaries) == {
        ("people", "ana@acme.example"),
        ("companies", "acme.example"),
        ("people", "zed@gmail.com"),
    }


def test_company_rolls_up_every_person_and_values_are_attio_shaped() -> None:
    events = [
        ev("a", "Login", "2026-11-20T09:00:00"),
        ev("b", "Login", "2026-11-18T09:00:00", email="bo@acme.example"),
    ]
    summaries = rollup(events, AS_OF)
    company = summaries[("companies", "acme.example")]
    assert (company.active_days_7, company.active_days_30) == (2, 2)
    assert company.attio_values() == {
        "last_seen_at": "2026-11-20T09:00:00.000000Z",
        "active_days_7": 2,
        "active_days_30": 2,
        "top_events": "Login",
    }
    assert company.digest() == summaries[("companies", "acme.example")].digest()
    assert company.digest() != company.lapsed().digest()
    assert company.lapsed().attio_values()["active_days_30"] == 0
