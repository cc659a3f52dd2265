"""Alerts: a Slack message per failed run.

`slack_run_failure_sensor` watches every job of the code location and posts one message per
failed run to `SLACK_ALERTS_CHANNEL` (default: the `REVOPS_ENV` profile's channel) through
`SlackResource`, whose
`SLACK_API_BASE_URL` can point at a test double. The message carries the run id as its marker:
before posting, the channel's recent history is searched for it (when the bot may read it), so a
re-evaluated tick does not post twice. The sensor is RUNNING by default only when
`SLACK_BOT_TOKEN` is set at load time; without a token it is STOPPED, and if started anyway it
logs why it posts nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dagster as dg

from revops_pipelines.domain.personal_data import mask_personal
from revops_pipelines.infra.settings import load_settings
from revops_pipelines.resources.slack import ENV_VARS, SlackError, SlackResource

CHANNEL_ENV = "SLACK_ALERTS_CHANNEL"
WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
MAX_ERROR_CHARS = 1500


def alerts_channel() -> str:
    """The environment profile's alert channel, or SLACK_ALERTS_CHANNEL when set."""
    return load_settings().alerts_channel


def failure_message(
    run: dg.DagsterRun, error: str | None, webserver_url: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for a failed run."""
    partition = run.tags.get("dagster/partition")
    what = run.job_name + (f" [{partition}]" if partition else "")
    text = f"Dagster run failed: {what} ({run.run_id[:8]})"
    detail = mask_personal((error or "no error message").strip())
    if len(detail) > MAX_ERROR_CHARS:
        detail = detail[: MAX_ERROR_CHARS - 1] + "…"
    fields = [
        {"type": "mrkdwn", "text": f"*Job:*\n{run.job_name}"},
        {"type": "mrkdwn", "text": f"*Run:*\n`{run.run_id}`"},
    ]
    if partition:
        fields.append({"type": "mrkdwn", "text": f"*Partition:*\n{partition}"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Dagster run failed"}},
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{detail}```"}},
    ]
    if webserver_url:
        url = f"{webserver_url.rstrip('/')}/runs/{run.run_id}"
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the run"},
                        "url": url,
                    }
                ],
            }
        )
    return text, blocks


def post_failure_alert(slack: SlackResource, run: dg.DagsterRun, error: str | None) -> str | None:
    """Post the alert for `run` once (marker = run id); the message `ts`, or None if Slack is
    not configured."""
    if not slack.is_configured():
        return None
    channel = alerts_channel()
    marker = f"run-failure:{run.run_id}"
    try:  # a re-evaluated tick finds its own message; a bot without history scope just posts
        found = slack.find_message(
            slack.channel_id(channel), marker, oldest=time.time() - slack.lookback_seconds
        )
    except SlackError:
        found = None
    if found:
        return found
    text, blocks = failure_message(run, error, os.environ.get(WEBSERVER_URL_ENV))
    return slack.post_message_once(channel, text, blocks, marker=marker)


def _default_status() -> dg.DefaultSensorStatus:
    token = os.environ.get(ENV_VARS["token"], "").strip()
    return dg.DefaultSensorStatus.RUNNING if token else dg.DefaultSensorStatus.STOPPED


@dg.run_failure_sensor(
    name="slack_run_failure_sensor",
    description="Posts one Slack message per failed run to SLACK_ALERTS_CHANNEL.",
    default_status=_default_status(),
)
def slack_run_failure_sensor(context: dg.RunFailureSensorContext, slack: SlackResource) -> None:
    run = context.dagster_run
    error = context.failure_event.message
    ts = post_failure_alert(slack, run, error)
    if ts is None:
        context.log.info(f"no Slack alert for run {run.run_id}: {slack.configuration_problem()}")
    else:
        context.log.info(f"Slack alert for run {run.run_id} in {alerts_channel()} (ts {ts})")


defs = dg.Definitions(sensors=[slack_run_failure_sensor])
