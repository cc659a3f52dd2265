"""Slack Block Kit messages, built and checked without I/O.

`new_lead_blocks` formats the new-lead notification for the assigned rep's channel;
`block_kit_errors` states the Block Kit limits Slack enforces (section text ≤3000 characters,
≤10 fields of ≤2000, ≤50 blocks, header ≤150, button text ≤75 and URL ≤3000), so the formatter
can be tested against them and the Slack sandbox can refuse what Slack would refuse. Text that
came from a form is escaped (`&`, `<`, `>`), so a submitted name cannot mention `<!channel>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from revops_pipelines.domain.leads import Lead

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MESSAGE_EXCERPT = 500
BLOCK_TYPES = frozenset(
    {"header", "section", "context", "actions", "divider", "image", "rich_text"}
)
SOURCE_NAMES = {"typeform": "Typeform", "tally": "Tally", "generic": "Web form"}


@dataclass(frozen=True)
class Rep:
    """The rep a lead was routed to, as the message names them."""

    name: str
    slack_user_id: str | None = None  # "U0123ABC": mentioned as <@U0123ABC> when known


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters escaped, so user text is shown, never interpreted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(f"*{label}:*\n{value}", MAX_FIELD_TEXT)}


def _company_facts(enrichment: dict[str, Any]) -> str | None:
    """ "Software · 540 employees · US" from an enrichment result's fields, when there are any."""
    employees = enrichment.get("employees")
    parts = [
        enrichment.get("industry"),
        f"{employees:,} employees" if isinstance(employees, int) else None,
        enrichment.get("country"),
    ]
    text = " · ".join(escape_mrkdwn(str(p)) for p in parts if p)
    return text or None


def new_lead_blocks(
    lead: Lead, rep: Rep, reason: str, attio_url: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) announcing `lead`, routed to `rep` because of `reason`.

    The text is what notifications and screen readers show; the blocks hold the details and,
    when `attio_url` is given, an "Open in Attio" button. Enriched company facts come from
    `lead.enrichment` (`industry`, `employees`, `country`) when present.
    """
    who = lead.full_name or lead.email
    company = lead.company_name or (lead.enrichment or {}).get("name") or lead.company_domain
    owner = f"<@{rep.slack_user_id}>" if rep.slack_user_id else escape_mrkdwn(rep.name)
    text = f"New lead: {who}" + (f" ({company})" if company else "") + f" → {rep.name}"
    headline = f"*{escape_mrkdwn(who)}*"
    if lead.job_title:
        headline += f" — {escape_mrkdwn(lead.job_title)}"
    if company:
        headline += f" at *{escape_mrkdwn(str(company))}*"
    fields = [
        _field("Owner", owner),
        _field("Reason", escape_mrkdwn(reason) or "—"),
        _field("Email", escape_mrkdwn(lead.email)),
    ]
    if lead.region or lead.country:
        place = " · ".join(p for p in (lead.region, lead.country) if p)
        fields.append(_field("Region", escape_mrkdwn(place)))
    if lead.phone:
        fields.append(_field("Phone", escape_mrkdwn(lead.phone)))
    facts = _company_facts(lead.enrichment or {})
    if facts:
        fields.append(_field("Company", facts))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "New inbound lead"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(headline, MAX_SECTION_TEXT)},
            "fields": fields[:MAX_FIELDS],
        },
    ]
    if lead.message and lead.message.strip():
        excerpt = truncate(" ".join(lead.message.split()), MESSAGE_EXCERPT)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f">{escape_mrkdwn(excerpt)}"}}
        )
    source = SOURCE_NAMES.get(lead.source, lead.source)
    context = f"{source} · form {lead.source_form} · {lead.key}"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(context)}]}
    )
    if attio_url and len(attio_url) <= MAX_URL:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Attio"},
            "url": attio_url,
            "action_id": "open_in_attio",
        }
        blocks.append({"type": "actions", "elements": [button]})
    return escape_mrkdwn(text), blocks


def high_value_blocks(
    text: str, blocks: list[dict[str, Any]], why: str
) -> tuple[str, list[dict[str, Any]]]:
    """The high-value channel's post: the new-lead post under its own header, saying why."""
    header = {"type": "header", "text": {"type": "plain_text", "text": "High-value inbound lead"}}
    reason = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(f"*High-value:* {escape_mrkdwn(why)}", 3000)},
    }
    body = [b for b in blocks if b.get("type") != "header"]
    return f"High-value {text[0].lower()}{text[1:]}", [header, reason, *body][:MAX_BLOCKS]


def block_kit_errors(blocks: Any) -> list[str]:
    """What Slack would refuse in `blocks`, in its `[ERROR] <what> [json-pointer:<where>]` form;
    empty when the blocks are valid (as far as these checks go: types and size limits)."""
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    for i, block in enumerate(blocks):
        errors += [
            f"[ERROR] {what} [json-pointer:/blocks/{i}{where}]" for what, where in _check(block)
        ]
    return errors


def _check(block: Any) -> list[tuple[str, str]]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in BLOCK_TYPES:
        return [(f"unsupported type: {kind!r}", "/type")]
    problems: list[tuple[str, str]] = []
    text = block["text"] if isinstance(block.get("text"), dict) else {}
    size = len(str(text.get("text", "")))
    fields, elements = block.get("fields") or [], block.get("elements") or []
    if kind == "header":
        if text.get("type") != "plain_text" or not size:
            problems.append(("must provide a plain_text object", "/text"))
        elif size > MAX_HEADER:
            problems.append((f"must be less than {MAX_HEADER + 1} characters", "/text/text"))
    if kind == "section":
        if not text and not fields:
            problems.append(("must provide either text or fields", ""))
        if size > MAX_SECTION_TEXT:
            problems.append((f"must be less than {MAX_SECTION_TEXT + 1} characters", "/text/text"))
        if len(fields) > MAX_FIELDS:
            problems.append((f"no more than {MAX_FIELDS} items allowed", "/fields"))
        for j, f in enumerate(fields):
            if len(str(f.get("text", "")) if isinstance(f, dict) else "") > MAX_FIELD_TEXT:
                problems.append(
                    (f"must be less than {MAX_FIELD_TEXT + 1} characters", f"/fields/{j}")
                )
    if kind in ("context", "actions") and not elements:
        problems.append(("must provide at least 1 item", "/elements"))
    if kind == "context" and len(elements) > MAX_CONTEXT_ELEMENTS:
        problems.append((f"no more than {MAX_CONTEXT_ELEMENTS} items allowed", "/elements"))
    for j, e in enumerate(elements if kind == "actions" else []):
        label = e.get("text", {}).get("text", "") if isinstance(e, dict) else ""
        if len(label) > MAX_BUTTON_TEXT:
            problems.append(
                (f"must be less than {MAX_BUTTON_TEXT + 1} characters", f"/elements/{j}/text")
            )
        if isinstance(e, dict) and len(str(e.get("url", ""))) > MAX_URL:
            problems.append((f"must be less than {MAX_URL + 1} characters", f"/elements/{j}/url"))
    return problems
