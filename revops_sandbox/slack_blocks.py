"""What the Slack stand-in refuses in a message's `blocks`: Block Kit's types and size limits.

Written for the stand-in alone, from the documented limits (shared/reference
salesforce-and-sources.md §5.4: section text ≤3000 characters, ≤10 fields of ≤2000 each, ≤50
blocks per message), not from the product's message builder: a limit the product misreads must
fail against the stand-in instead of being shared by both. The header (≤150), button-text (≤75),
URL (≤3000) and context-element (≤10) limits come from Slack's per-block reference pages and are
UNCONFIRMED in the shared reference; they are kept because a stand-in stricter than Slack fails
a test loudly, while a looser one would let a message through that Slack then refuses.
Problems are worded like Slack's `invalid_blocks` response: `[ERROR] <what> [json-pointer:<where>]`.
"""

from __future__ import annotations

from typing import Any

LIMITS = {
    "blocks": 50,
    "section_text": 3000,
    "section_fields": 10,
    "field_text": 2000,
    "header_text": 150,
    "context_elements": 10,
    "button_text": 75,
    "button_url": 3000,
}
KNOWN_TYPES = ("actions", "context", "divider", "header", "image", "rich_text", "section")


def _too_long(limit: int) -> str:
    return f"must be less than {limit + 1} characters"


def _text_of(node: Any) -> str:
    """The `text` string of a text object (`{"type": ..., "text": "..."}`), else ""."""
    return str(node.get("text", "")) if isinstance(node, dict) else ""


def _section(block: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    fields = block.get("fields") or []
    if not block.get("text") and not fields:
        found.append(("must provide either text or fields", ""))
    if len(_text_of(block.get("text"))) > LIMITS["section_text"]:
        found.append((_too_long(LIMITS["section_text"]), "/text/text"))
    if len(fields) > LIMITS["section_fields"]:
        found.append((f"no more than {LIMITS['section_fields']} items allowed", "/fields"))
    for j, item in enumerate(fields):
        if len(_text_of(item)) > LIMITS["field_text"]:
            found.append((_too_long(LIMITS["field_text"]), f"/fields/{j}"))
    return found


def _header(block: dict[str, Any]) -> list[tuple[str, str]]:
    text = block.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text" or not _text_of(text):
        return [("must provide a plain_text object", "/text")]
    if len(_text_of(text)) > LIMITS["header_text"]:
        return [(_too_long(LIMITS["header_text"]), "/text/text")]
    return []


def _elements(block: dict[str, Any]) -> list[tuple[str, str]]:
    elements = block.get("elements") or []
    if not elements:
        return [("must provide at least 1 item", "/elements")]
    found: list[tuple[str, str]] = []
    if block["type"] == "context" and len(elements) > LIMITS["context_elements"]:
        found.append((f"no more than {LIMITS['context_elements']} items allowed", "/elements"))
    if block["type"] == "actions":
        for j, element in enumerate(elements):
            element = element if isinstance(element, dict) else {}
            if len(_text_of(element.get("text"))) > LIMITS["button_text"]:
                found.append((_too_long(LIMITS["button_text"]), f"/elements/{j}/text"))
            if len(str(element.get("url", ""))) > LIMITS["button_url"]:
                found.append((_too_long(LIMITS["button_url"]), f"/elements/{j}/url"))
    return found


CHECKS = {"section": _section, "header": _header, "context": _elements, "actions": _elements}


def invalid_blocks(blocks: Any) -> list[str]:
    """Slack's `response_metadata.messages` for `blocks` Slack would refuse; [] when acceptable."""
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    if len(blocks) > LIMITS["blocks"]:
        return [f"[ERROR] no more than {LIMITS['blocks']} items allowed [json-pointer:/blocks]"]
    messages: list[str] = []
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in KNOWN_TYPES:
            found = [(f"unsupported type: {kind!r}", "/type")]
        else:
            found = CHECKS.get(kind, lambda _block: [])(block)
        messages += [f"[ERROR] {what} [json-pointer:/blocks/{i}{where}]" for what, where in found]
    return messages
