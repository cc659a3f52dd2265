"""The new-lead Slack message and the Block Kit limits it is checked against."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from revops_pipelines.domain.leads import Lead
from revops_pipelines.domain.messages import (
    Rep,
    block_kit_errors,
    escape_mrkdwn,
    new_lead_blocks,
)

LEAD = Lead(
    key="typeform:LtWXD3crgy",
    source="typeform",
    source_form="demo01",
    submitted_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    email="jane.doe@acme.example",
    first_name="Jane",
    last_name="Doe",
    company_name="Acme",
    company_domain="acme.example",
    is_disposable=False,
    phone="+442071838750",
    job_title="VP Ops",
    country="GB",
    region="EMEA",
    message="We need   help\nwith routing.",
    raw_ref="webhook_inbox:42",
)
ALICE = Rep("Alice Martin", "U0ALICE")
URL = "https://app.attio.com/revops/person/8f1c/overview"


def texts(block: dict[str, Any]) -> list[str]:
    return [f["text"] for f in block.get("fields", [])]


def test_the_message_names_lead_owner_reason_and_links_to_attio() -> None:
    text, blocks = new_lead_blocks(LEAD, ALICE, "territory=EMEA", URL)
    assert text == "New lead: Jane Doe (Acme) → Alice Martin"
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "New inbound lead"}
    assert blocks[1]["text"]["text"] == "*Jane Doe* — VP Ops at *Acme*"
    assert texts(blocks[1]) == [
        "*Owner:*\n<@U0ALICE>",
        "*Reason:*\nterritory=EMEA",
        "*Email:*\njane.doe@acme.example",
        "*Region:*\nEMEA · GB",
        "*Phone:*\n+442071838750",
    ]
    assert blocks[2]["text"]["text"] == ">We need help with routing."
    assert blocks[3]["elements"] == [
        {"type": "mrkdwn", "text": "Typeform · form demo01 · typeform:LtWXD3crgy"}
    ]
    [button] = blocks[4]["elements"]
    assert (button["text"]["text"], button["url"]) == ("Open in Attio", URL)
    assert block_kit_errors(blocks) == []


def test_a_minimal_lead_without_a_slack_id_or_link() -> None:
    lead = dataclasses.replace(
        LEAD, first_name=None, last_name=None, company_name=None, company_domain=None,
        job_title=None, phone=None, region=None, country=None, message="  ",
    )  # fmt: skip
    text, blocks = new_lead_blocks(lead, Rep("Catch-all queue"), "", None)
    assert text == "New lead: jane.doe@acme.example → Catch-all queue"
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[1]["text"]["text"] == "*jane.doe@acme.example*"
    assert texts(blocks[1]) == [
        "*Owner:*\nCatch-all queue",
        "*Reason:*\n—",
        "*Email:*\njane.doe@acme.example",
    ]
    assert block_kit_errors(blocks) == []


def test_enriched_company_facts_are_shown() -> None:
    lead = dataclasses.replace(
        LEAD,
        company_name=None,
        enrichment={
            "name": "Acme Corp",
            "industry": "Software",
            "employees": 1250,
            "country": "France",
        },
    )
    text, blocks = new_lead_blocks(lead, ALICE, "pool=enterprise", URL)
    assert text == "New lead: Jane Doe (Acme Corp) → Alice Martin"
    assert "*Company:*\nSoftware · 1,250 employees · France" in texts(blocks[1])


def test_form_text_cannot_mention_or_link() -> None:
    lead = dataclasses.replace(
        LEAD,
        first_name="<!channel>",
        last_name="& <@U0BOSS>",
        message="<https://evil.example|click>",
    )
    text, blocks = new_lead_blocks(lead, Rep("<!here>"), "rule <x>", URL)
    rendered = repr((text, blocks))
    for raw in ("<!channel>", "<@U0BOSS>", "<https://evil.example", "<!here>", "<x>"):
        assert raw not in rendered
    assert blocks[1]["text"]["text"].startswith("*&lt;!channel&gt; &amp; &lt;@U0BOSS&gt;*")
    assert text == "New lead: &lt;!channel&gt; &amp; &lt;@U0BOSS&gt; (Acme) → &lt;!here&gt;"


def test_long_input_stays_inside_the_limits() -> None:
    lead = dataclasses.replace(
        LEAD, message="word " * 2000, job_title="T" * 4000, company_name="C" * 100
    )
    _, blocks = new_lead_blocks(lead, ALICE, "r" * 5000, "https://app.attio.com/" + "x" * 3100)
    assert block_kit_errors(blocks) == []
    assert len(blocks[2]["text"]["text"]) == 501  # ">" and a 500-character excerpt
    assert blocks[2]["text"]["text"].endswith("…")
    assert len(blocks[1]["text"]["text"]) == 3000
    assert all(len(f) <= 2000 for f in texts(blocks[1]))
    assert blocks[-1]["type"] == "context"  # a link too long for a button is left out


def test_escape_mrkdwn() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ("nope", ["[ERROR] must be an array [json-pointer:/blocks]"]),
        ([{"type": "divider"}] * 51, ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]),
        ([{"type": "marquee"}], ["[ERROR] unsupported type: 'marquee' [json-pointer:/blocks/0/type]"]),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}],
         ["[ERROR] must provide a plain_text object [json-pointer:/blocks/0/text]"]),
        ([{"type": "section"}], ["[ERROR] must provide either text or fields [json-pointer:/blocks/0]"]),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
         ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
         ["[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]"]),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
         ["[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/fields/0]"]),
        ([{"type": "context", "elements": []}], ["[ERROR] must provide at least 1 item [json-pointer:/blocks/0/elements]"]),
        ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}],
         ["[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text]"]),
        ([{"type": "divider"}, {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}], []),
    ],
)  # fmt: skip
def test_block_kit_errors(blocks: Any, expected: list[str]) -> None:
    assert block_kit_errors(blocks) == expected
