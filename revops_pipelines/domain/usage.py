"""Product usage: Segment `track` events rolled up per person (email) and company (domain).

Pure logic, no I/O. `parse_track` reads one stored Segment delivery; `rollup` turns the events of a
30-day window into one `UsageSummary` per record as of the end of a day (UTC):

- `last_seen_at`: the latest event timestamp at or before the end of the day;
- `active_days_7` / `active_days_30`: distinct UTC days with an event in the last 7 / 30 days,
  the as-of day included;
- `top_events`: the 3 most frequent event names in the last 30 days (ties by name).

Events are counted once per `messageId` (Segment's own dedupe key), whatever the inbox holds. The
person is the event's email (`context.traits.email`, `traits.email`, `properties.email`, or a
`userId` that is an email); the company is `company_domain` from the same places, else the email's
domain unless it is free mail or disposable. An event with neither is counted nowhere.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from revops_pipelines.domain.leads import LeadRejected, email_company_domain, normalize_email

UsageObject = Literal["people", "companies"]
WINDOW_DAYS = 30
SHORT_WINDOW_DAYS = 7
TOP_EVENTS = 3


class UsageEventError(ValueError):
    """A Segment delivery that cannot be read (the reason is the message)."""


@dataclass(frozen=True)
class TrackEvent:
    message_id: str
    event: str
    timestamp: datetime  # timezone-aware, UTC
    email: str | None
    company_domain: str | None


@dataclass(frozen=True)
class UsageSummary:
    last_seen_at: datetime
    active_days_7: int
    active_days_30: int
    top_events: tuple[str, ...]

    def attio_values(self) -> dict[str, Any]:
        """The Attio attribute values (the same slugs on people and companies)."""
        return {
            "last_seen_at": self.last_seen_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "active_days_7": self.active_days_7,
            "active_days_30": self.active_days_30,
            "top_events": ", ".join(self.top_events),
        }

    def digest(self) -> str:
        """A hash of what would be written: equal digests mean nothing to write."""
        payload = json.dumps(self.attio_values(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def lapsed(self) -> UsageSummary:
        """The same record with no activity in the window (its last-seen time kept)."""
        return UsageSummary(self.last_seen_at, 0, 0, ())


def _parse_timestamp(raw: Any) -> datetime:
    if not isinstance(raw, str) or not raw.strip():
        raise UsageEventError("missing timestamp")
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageEventError(f"invalid timestamp {raw!r}") from exc
    if parsed.tzinfo is None:
        raise UsageEventError(f"timestamp {raw!r} has no time zone")
    return parsed.astimezone(UTC)


def _first_text(sources: Iterable[Mapping[str, Any]], key: str) -> str | None:
    for source in sources:
        value = source.get(key) if isinstance(source, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _clean_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    try:
        return normalize_email(raw)
    except LeadRejected:
        return None


def _clean_domain(raw: str | None) -> str | None:
    if not raw:
        return None
    text = raw.strip().lower().removeprefix("https://").removeprefix("http://")
    text = text.removeprefix("www.").split("/", 1)[0].rstrip(".")
    return text if "." in text and " " not in text else None


def parse_track(body: bytes) -> TrackEvent | None:
    """One Segment delivery as a track event; None for other types (identify, page, ...)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageEventError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageEventError("payload is not a JSON object")
    if payload.get("type") != "track":
        return None
    event = payload.get("event")
    if not isinstance(event, str) or not event.strip():
        raise UsageEventError("track event without an event name")
    message_id = payload.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise UsageEventError("track event without a messageId")
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    places = [
        context.get("traits") or {},
        payload.get("traits") or {},
        payload.get("properties") or {},
    ]
    email = _clean_email(_first_text(places, "email")) or _clean_email(payload.get("userId"))
    domain = _clean_domain(_first_text(places, "company_domain"))
    if domain is None and email is not None:
        domain, _disposable = email_company_domain(email)
    return TrackEvent(
        message_id=message_id.strip(),
        event=event.strip(),
        timestamp=_parse_timestamp(payload.get("timestamp")),
        email=email,
        company_domain=domain,
    )


def day_end(as_of: date) -> datetime:
    """The end of a UTC day (exclusive)."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)


def window_start(as_of: date) -> datetime:
    """The start of the 30-day window that ends with `as_of` (inclusive)."""
    return day_end(as_of) - timedelta(days=WINDOW_DAYS)


def dedupe(events: Iterable[TrackEvent]) -> list[TrackEvent]:
    """One event per `messageId` (the first one seen)."""
    seen: dict[str, TrackEvent] = {}
    for event in events:
        seen.setdefault(event.message_id, event)
    return list(seen.values())


def rollup(
    events: Iterable[TrackEvent], as_of: date
) -> dict[tuple[UsageObject, str], UsageSummary]:
    """Per (object, email or domain): the summary of the 30 days ending with `as_of`."""
    start, end = window_start(as_of), day_end(as_of)
    short_start = end - timedelta(days=SHORT_WINDOW_DAYS)
    grouped: dict[tuple[UsageObject, str], list[TrackEvent]] = defaultdict(list)
    for event in dedupe(events):
        if not start <= event.timestamp < end:
            continue
        if event.email:
            grouped[("people", event.email)].append(event)
        if event.company_domain:
            grouped[("companies", event.company_domain)].append(event)
    summaries = {}
    for key, group in grouped.items():
        days = {e.timestamp.date() for e in group}
        counts = Counter(e.event for e in group)
        top = sorted(counts, key=lambda name: (-counts[name], name))[:TOP_EVENTS]
        summaries[key] = UsageSummary(
            last_seen_at=max(e.timestamp for e in group),
            active_days_7=sum(1 for d in days if d >= short_start.date()),
            active_days_30=len(days),
            top_events=tuple(top),
        )
    return summaries


# --- planning: what to write, against what was written ---------------------------------------
@dataclass(frozen=True)
class StateRow:
    digest: str
    as_of: date
    last_seen_at: datetime
    attio_record_id: str | None


@dataclass(frozen=True)
class PlannedWrite:
    object: UsageObject
    key: str
    summary: UsageSummary
    attio_record_id: str | None


def plan_writes(
    summaries: dict[tuple[UsageObject, str], UsageSummary],
    state: dict[tuple[str, str], StateRow],
    as_of: date,
) -> tuple[list[PlannedWrite], int, int]:
    """(writes, unchanged, skipped because a newer partition already wrote the record)."""
    wanted = dict(summaries)
    start = window_start(as_of)
    for (obj, key), row in state.items():  # activity left the window: zero it once
        if (obj, key) not in wanted and row.last_seen_at < start and row.as_of < as_of:
            wanted[(obj, key)] = UsageSummary(row.last_seen_at, 0, 0, ())  # type: ignore[index]
    writes, unchanged, newer = [], 0, 0
    for (obj, key), summary in sorted(wanted.items()):
        row = state.get((obj, key))
        if row is not None and row.as_of > as_of:
            newer += 1
        elif row is not None and row.digest == summary.digest():
            unchanged += 1
        else:
            writes.append(PlannedWrite(obj, key, summary, row.attio_record_id if row else None))
    return writes, unchanged, newer
