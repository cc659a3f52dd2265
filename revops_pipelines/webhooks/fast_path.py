"""The receiver's fast path: ask Dagster to launch a stored form lead's run at once.

After a delivery's row is committed and answered, the receiver sends the Dagster webserver's
GraphQL `launchRun` mutation for `inbound_leads_job` with that one row as the batch, so the lead
does not wait for the inbox sensor's next tick (up to ~5 s) plus its own tick-to-run overhead. The
run still goes through the instance's run queue and its limits.

The sensor stays the safety net, and nothing here can lose a lead or slow an answer:
- it runs off the request path (a task started after the row is committed), bounded in time
  (`timeout_seconds`) and in number (`max_in_flight`; beyond that the launch is skipped);
- any failure is logged and dropped: the row is still pending, the sensor launches it;
- exactly once does not depend on it: a run claims its rows atomically under its run id
  (`services/inbox.py`), so when the sensor also launches a run for the row (it ticked before
  this run claimed it), one run processes the row and the other finds it held and skips it.
The run carries the sensor's run key and name tags for a one-row batch, `forms-<id>-<id>`, so a
later tick that plans exactly that batch is skipped by the daemon instead of launching a run that
would find nothing to do. These are Dagster's internal tags (`dagster/run_key`,
`dagster/sensor_name`), seen to work in 1.13 but UNCONFIRMED as a contract; if they stop
working, the cost is an empty run, never a duplicate effect. In the UI the run then shows as
launched by `form_inbox_sensor`; the `revops/launched_by: receiver` tag tells them apart.
Only the form lead flow has a fast path (speed to lead); Attio events wait for their sensor.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.webhooks.logs import log_event

# The names the code location gives these (jobs.py CLAIMING_ASSET, sensors/inbox.py FORMS); the
# webhooks layer may not import them, so a test checks that these still match.
LEADS_JOB = "inbound_leads_job"
CLAIMING_ASSET = "form_submissions"
SENSOR_NAME = "form_inbox_sensor"
RUN_KEY_PREFIX = "forms"
REPOSITORY_NAME = "__repository__"  # a code location's one Definitions object

LAUNCH_RUN = """
mutation LaunchInboxRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


class LaunchRefused(Exception):
    """GraphQL answered, but without launching the run (e.g. the job or location is unknown)."""


@dataclass(frozen=True)
class FastPathSettings:
    graphql_url: str
    location_name: str = "revops_pipelines"
    timeout_seconds: float = 5.0
    max_in_flight: int = 8


def run_key(inbox_id: int) -> str:
    """The inbox sensor's run key for a batch of this one row."""
    return f"{RUN_KEY_PREFIX}-{inbox_id}-{inbox_id}"


def execution_params(location_name: str, inbox_id: int) -> dict[str, Any]:
    """`ExecutionParams` of the run for one inbox row: the sensor's run config for a batch of
    one, its tags, and the fast path's own tag."""
    key = run_key(inbox_id)
    tags = {
        "dagster/run_key": key,
        "dagster/sensor_name": SENSOR_NAME,
        "revops/inbox_batch": key,
        "revops/inbox_rows": "1",
        "revops/launched_by": "receiver",
    }
    return {
        "selector": {
            "repositoryLocationName": location_name,
            "repositoryName": REPOSITORY_NAME,
            "jobName": LEADS_JOB,
        },
        "runConfigData": {
            "ops": {CLAIMING_ASSET: {"config": {"inbox_ids": [inbox_id], "limit": 1}}}
        },
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }


class FastPath:
    """Launches runs for stored form rows in the background; `submit` never blocks or raises."""

    def __init__(self, settings: FastPathSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._tasks: set[asyncio.Task[None]] = set()  # held so they are not garbage-collected

    @staticmethod
    def handles(source: str) -> bool:
        return source in FORM_SOURCES

    def submit(self, source: str, inbox_id: int) -> bool:
        """Start launching the row's run (after its commit); False if skipped."""
        if not self.handles(source):
            return False
        if len(self._tasks) >= self.settings.max_in_flight:
            log_event(
                logging.WARNING,
                "fast path busy: the inbox sensor will launch this row",
                event="fast_path_skipped",
                inbox_id=inbox_id,
                in_flight=len(self._tasks),
            )
            return False
        task = asyncio.get_running_loop().create_task(self._launch(inbox_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self) -> None:
        """Wait for the launches in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def launch(self, inbox_id: int) -> str:
        """Send `launchRun` for the row; the new run's id, or an exception."""
        params = execution_params(self.settings.location_name, inbox_id)
        body = {"query": LAUNCH_RUN, "variables": {"executionParams": params}}
        client = self._client or httpx.AsyncClient()
        try:
            response = await client.post(
                self.settings.graphql_url, json=body, timeout=self.settings.timeout_seconds
            )
        finally:
            if self._client is None:
                await client.aclose()
        response.raise_for_status()
        data = response.json()
        result = (data.get("data") or {}).get("launchRun") or {}
        if result.get("__typename") != "LaunchRunSuccess":
            reason = result.get("message") or data.get("errors") or result.get("__typename")
            raise LaunchRefused(f"{result.get('__typename')}: {str(reason)[:300]}")
        return str(result["run"]["runId"])

    async def _launch(self, inbox_id: int) -> None:
        try:
            run_id = await asyncio.wait_for(
                self.launch(inbox_id), self.settings.timeout_seconds + 1
            )
        except Exception as exc:  # never fails anything: the row is pending, the sensor has it
            log_event(
                logging.WARNING,
                f"fast path launch failed ({type(exc).__name__}: {str(exc)[:200]}); "
                "the inbox sensor will launch this row",
                event="fast_path_failed",
                inbox_id=inbox_id,
                exception=type(exc).__name__,
            )
            return
        log_event(
            logging.INFO,
            "fast path launched the row's run",
            event="fast_path_launched",
            inbox_id=inbox_id,
            run_id=run_id,
        )
