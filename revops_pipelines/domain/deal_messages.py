"""Deal notifications: when one is due, its ledger key, the Slack message and the note on the deal.

`config/deals.yaml` (`DealNotificationConfig`) names the wins channel, the stages that count as
won and the value above which a newly created deal is announced too. Which notification a deal
gets is decided from the deal as it is now (`DealFacts`, read from the fetched record), never from
the event, so a redelivered or batched event decides the same thing. Each notification has a
deterministic key per deal transition: a won deal is keyed by the time its stage became won (the
stage value's `active_from`), so redeliveries and retried runs find the same key, while a deal
that is reopened and won again gets a new one. `won_stages` names statuses by id or by title;
titles match ignoring case, surrounding spaces and emoji, so `Won` in the configuration matches
Attio's default `Won 🎉` (`is_won_stage`). Pure: no I/O, no Dagster.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from revops_pipelines.domain.messages import MAX_FIELDS, MAX_SECTION_TEXT, escape_mrkdwn, truncate

WON, BIG_NEW = "won", "big_new"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND"})


class DealNotificationConfig(BaseModel):
    """`config/deals.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wins_channel: str = Field(default="#sales-wins", min_length=2, description="Slack channel.")
    won_stages: tuple[str, ...] = Field(
        default=("Won 🎉",),
        min_length=1,
        description="Deal `stage` statuses that count as won: status ids, or titles (matched "
        "ignoring case, surrounding spaces and emoji).",
    )
    won_when_celebration_enabled: bool = Field(
        default=False,
        description="Also count as won any stage whose status has `celebration_enabled` on. "
        "Off by default: whether Attio means 'won' by it is UNCONFIRMED (reference "
        "integrations.md §4.6), so only a workspace that uses it that way should turn it on.",
    )
    big_new_deal_threshold: Decimal | None = Field(
        default=None,
        ge=0,
        description="A deal created with a value at or above this (in its own currency) is "
        "announced; null turns this off.",
    )

    @field_validator("won_stages")
    @classmethod
    def _names_a_stage(cls, stages: tuple[str, ...]) -> tuple[str, ...]:
        blank = [s for s in stages if not stage_title_key(s)]
        if blank:
            raise ValueError(f"won_stages entries {blank!r} name no stage (empty without emoji)")
        return stages


# Characters that draw or shape an emoji without being a letter: variation selectors, the
# zero-width joiner, the combining keycap and the tag characters of flag sequences.
_EMOJI_PARTS = frozenset({0x200D, 0x20E3, 0xFE0E, 0xFE0F, *range(0xE0020, 0xE0080)})


def stage_title_key(title: str) -> str:
    """A status title as `won_stages` compares it: "  Won 🎉 " -> "won".

    Emoji (symbols, skin-tone modifiers and their joiners) are dropped, runs of spaces become one
    and the result is case-folded; letters, digits and punctuation stay, so "Closed won" and
    "Won" remain different stages."""
    kept = "".join(
        ch
        for ch in title
        if unicodedata.category(ch) not in ("So", "Sk") and ord(ch) not in _EMOJI_PARTS
    )
    return " ".join(kept.split()).casefold()


def is_won_stage(title: str | None, status_id: str | None, won_stages: tuple[str, ...]) -> bool:
    """Whether a deal's current stage (its status title and id) is one of `won_stages`, each of
    which is a status id (exact, ignoring case as UUIDs do) or a title (see `stage_title_key`)."""
    if status_id and status_id.casefold() in {s.strip().casefold() for s in won_stages}:
        return True
    if title is None or not stage_title_key(title):
        return False
    return stage_title_key(title) in {stage_title_key(s) for s in won_stages}


def won_stages_in_workspace(
    statuses: list[dict[str, Any]], won_stages: tuple[str, ...]
) -> list[str]:
    """The titles of the workspace's (unarchived) deal stage statuses that `won_stages` names;
    empty means no configured won stage exists and no deal will ever be announced as won."""
    found = []
    for status in statuses:
        ids = status.get("id") if isinstance(status.get("id"), dict) else {}
        title = status.get("title")
        if status.get("is_archived"):
            continue
        if is_won_stage(title, ids.get("status_id"), won_stages):
            found.append(str(title))
    return found


def format_currency(amount: Decimal | float | int | str | None, code: str | None) -> str:
    """`125000, "USD"` -> "$125,000"; `1234.5, "EUR"` -> "€1,234.50"; `99, "CHF"` -> "99 CHF".

    Whole amounts show no decimals; others two (none for zero-decimal currencies such as JPY),
    rounded half up. A missing amount is "—"; a missing code shows the bare number.
    """
    if amount is None:
        return "—"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return "—"
    if not value.is_finite():
        return "—"
    code = (code or "").upper() or None
    places = Decimal(1) if code in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    value = value.quantize(places, rounding=ROUND_HALF_UP)
    whole = value == value.to_integral_value()
    number = f"{abs(value):,.0f}" if whole else f"{abs(value):,.2f}"
    sign = "-" if value < 0 else ""
    if code is None:
        return f"{sign}{number}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}"


@dataclass(frozen=True)
class DealFacts:
    """What a notification says about a deal, as it is now in Attio."""

    record_id: str
    name: str
    stage: str | None
    stage_since: str | None  # active_from of the current stage value
    value: Decimal | None
    currency: str | None
    company_id: str | None
    owner_id: str | None
    web_url: str | None = None
    stage_id: str | None = None  # the current stage's status_id
    stage_celebration: bool = False  # the current stage's status has celebration_enabled on


def _active(record: dict[str, Any], attribute: str) -> dict[str, Any] | None:
    values = (record.get("values") or {}).get(attribute) or []
    active = [v for v in values if isinstance(v, dict) and v.get("active_until") is None]
    return active[0] if active else None


def deal_facts(record: dict[str, Any]) -> DealFacts:
    """The facts of a fetched deal record (Attio's read shape; absent values become None)."""
    name = _active(record, "name") or {}
    stage = _active(record, "stage") or {}
    value = _active(record, "value") or {}
    company = _active(record, "associated_company") or {}
    owner = _active(record, "owner") or {}
    status = stage.get("status") if isinstance(stage.get("status"), dict) else {}
    status_ids = status.get("id") if isinstance(status.get("id"), dict) else {}
    amount = value.get("currency_value")
    try:
        parsed = Decimal(str(amount)) if amount is not None else None
    except InvalidOperation:
        parsed = None
    return DealFacts(
        record_id=str(record["id"]["record_id"]),
        name=str(name.get("value") or "").strip() or "Untitled deal",
        stage=status.get("title"),
        stage_since=stage.get("active_from"),
        value=parsed,
        currency=value.get("currency_code"),
        company_id=company.get("target_record_id"),
        owner_id=owner.get("referenced_actor_id"),
        web_url=record.get("web_url"),
        stage_id=status_ids.get("status_id"),
        stage_celebration=status.get("celebration_enabled") is True,
    )


def notification_due(
    facts: DealFacts, config: DealNotificationConfig, *, created: bool
) -> str | None:
    """WON when the deal's current stage is a won stage; else BIG_NEW when the deal was created
    in this batch with a value at or above the threshold; else None."""
    if is_won_stage(facts.stage, facts.stage_id, config.won_stages):
        return WON
    if config.won_when_celebration_enabled and facts.stage_celebration:
        return WON
    threshold = config.big_new_deal_threshold
    if created and threshold is not None and facts.value is not None and facts.value >= threshold:
        return BIG_NEW
    return None


def transition_key(kind: str, facts: DealFacts) -> str:
    """The ledger key of one deal transition: `deal:<id>:won:<since>` or `deal:<id>:big_new`."""
    if kind == WON:
        return f"deal:{facts.record_id}:won:{facts.stage_since or 'unknown'}"
    return f"deal:{facts.record_id}:{kind}"


HEADERS = {WON: "Deal won", BIG_NEW: "New deal"}


def deal_blocks(
    kind: str, facts: DealFacts, *, company: str | None, owner: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) announcing the deal: name, value, company, owner."""
    amount = format_currency(facts.value, facts.currency)
    verb = "won" if kind == WON else "created"
    text = f"Deal {verb}: {facts.name} ({amount})" + (f" · {company}" if company else "")
    fields = [
        {"type": "mrkdwn", "text": f"*Value:*\n{escape_mrkdwn(amount)}"},
        {"type": "mrkdwn", "text": f"*Company:*\n{escape_mrkdwn(company or '—')}"},
        {"type": "mrkdwn", "text": f"*Owner:*\n{escape_mrkdwn(owner or '—')}"},
        {"type": "mrkdwn", "text": f"*Stage:*\n{escape_mrkdwn(facts.stage or '—')}"},
    ]
    headline = truncate(f"*{escape_mrkdwn(facts.name)}*", MAX_SECTION_TEXT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": HEADERS[kind]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": headline},
            "fields": fields[:MAX_FIELDS],
        },
    ]
    if facts.web_url:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Attio"},
            "url": facts.web_url,
            "action_id": "open_in_attio",
        }
        blocks.append({"type": "actions", "elements": [button]})
    return escape_mrkdwn(text), blocks


def slack_ts_time(ts: str) -> datetime | None:
    """A Slack message `ts` ("1767225600.000100") as a UTC time."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def notification_note(kind: str, facts: DealFacts, channel: str, ts: str) -> tuple[str, str]:
    """(title, markdown) of the note documenting a sent notification on the deal.

    The title names the transition, so the note client's look-before-resend finds exactly this
    note (and not one from an earlier win of a reopened deal)."""
    sent = slack_ts_time(ts)
    when = sent.strftime("%Y-%m-%d %H:%M:%S UTC") if sent else ts
    what = "deal won" if kind == WON else "new deal"
    since = f" since {facts.stage_since}" if kind == WON and facts.stage_since else ""
    title = f"Notification sent: {what} ({facts.record_id}{since})"
    body = "\n".join(
        [
            f"Notification sent to {channel}: {what}.",
            "",
            f"- Channel: {channel}",
            f"- Timestamp: {when} (Slack ts {ts})",
            f"- Value: {format_currency(facts.value, facts.currency)}",
            f"- Stage: {facts.stage or '—'}",
        ]
    )
    return title, body
