"""The lead's Slack step: the new-lead post in the rep's channel, mentioning the rep (the Slack
user found by the rep's email when routing.yaml gives no id; the rep's name when Slack has none),
and, for a high-value lead (routing.yaml `high_value`), one more post in the high-value channel.
Each post goes through the effect ledger under its own key, so each is sent once.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from revops_pipelines.domain.audit import StepResult
from revops_pipelines.domain.messages import Rep as MessageRep
from revops_pipelines.domain.messages import high_value_blocks, new_lead_blocks
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.infra.send_once import Effect, EffectOutcome, run_once
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.services.leads.steps import done_step
from revops_pipelines.store.ledger import LedgerTable

if TYPE_CHECKING:
    from revops_pipelines.services.leads.flow import RoutedLead

DEFAULT_SLACK_CHANNEL = "#sales-leads"


async def notify_slack(
    routed: RoutedLead, rep: Any, engine: sa.Engine, slack: SlackResource, config: RoutingConfig
) -> StepResult:
    if not slack.is_configured():
        return StepResult("slack", "not configured", slack.configuration_problem() or "")
    if rep is None:
        return StepResult("slack", "skipped", "no rep to notify")
    key = f"{routed.lead.key}:slack"
    channel = rep.slack_channel or DEFAULT_SLACK_CHANNEL
    mention = await _slack_user_id(slack, rep)
    text, blocks = new_lead_blocks(
        routed.lead,
        MessageRep(name=rep.name, slack_user_id=mention),
        routed.decision.reason,
        routed.person_url,
    )
    try:
        outcome = await _post_once(engine, slack, key, "slack", channel, text, blocks)
    except Exception as exc:  # non-critical: reported, never blocks the lead
        return StepResult("slack", "failed", str(exc))
    who = f"<@{mention}>" if mention else f"{rep.name} (no Slack user)"
    detail = f"{channel}, mentions {who}"
    if routed.high_value and config.high_value:
        hv_channel = config.high_value.channel
        hv_text, hv_blocks = high_value_blocks(text, blocks, routed.high_value)
        try:
            await _post_once(
                engine,
                slack,
                f"{routed.lead.key}:high_value",
                "slack",
                hv_channel,
                hv_text,
                hv_blocks,
            )
        except Exception as exc:  # non-critical, as above
            return StepResult("slack", "failed", f"high-value post to {hv_channel}: {exc}")
        detail += f"; high-value ({routed.high_value}) to {hv_channel}"
    return done_step("slack", outcome, detail)


async def _slack_user_id(slack: SlackResource, rep: Any) -> str | None:
    """The rep's configured Slack id, else the one Slack has for the rep's email (cached); None
    when Slack has no such user or cannot tell now (the post then names the rep)."""
    if rep.slack_user_id:
        return str(rep.slack_user_id)
    try:
        return await asyncio.to_thread(slack.user_id_by_email, rep.email)
    except Exception:  # e.g. missing users:read.email scope: the name is shown instead
        return None


async def _post_once(
    engine: sa.Engine,
    slack: SlackResource,
    key: str,
    step: str,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]],
) -> EffectOutcome:
    """One Slack post under ledger key `key`, looked for by its marker after an ambiguous try."""

    async def post() -> Effect:
        ts = await asyncio.to_thread(slack.post_message_once, channel, text, blocks, marker=key)
        return Effect(ts, {"channel": channel})

    async def look() -> Effect | None:
        channel_id = await asyncio.to_thread(slack.channel_id, channel)
        oldest = time.time() - slack.lookback_seconds
        ts = await asyncio.to_thread(slack.find_message, channel_id, key, oldest=oldest)
        return Effect(ts, {"channel": channel}) if ts else None

    return await run_once(LedgerTable(engine), key, step, post, look)
