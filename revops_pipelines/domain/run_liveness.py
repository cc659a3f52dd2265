"""Whether the run holding inbox claims can still settle them, from what Dagster says of it.

A run claims its rows inside a step, so only a started run settles claims. Claims whose run has
ended (its end did not hand them back: the failure sensor was off or missed it, or a partial
manual run succeeded without the settling step), whose run is not started, or whose run the
instance does not know, are orphaned: after a grace that lets the run-failure sensor act first,
they go back to the inbox. A started run is judged by its heartbeat instead
(`sensors/dead_runs.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Dagster's run statuses, by name (DagsterRunStatus values), grouped by what they say of claims.
ENDED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
NOT_STARTED = frozenset({"QUEUED", "NOT_STARTED", "STARTING"})


@dataclass(frozen=True)
class ClaimHolder:
    """A run holding inbox rows: its id (the rows' `claimed_by`), how many, the oldest claim."""

    run_id: str
    rows: int
    claimed_at: datetime


@dataclass(frozen=True)
class RunState:
    """What the Dagster instance records of a run."""

    status: str  # a DagsterRunStatus value, e.g. "STARTED"
    ended_at: datetime | None = None


def orphaned_because(
    holder: ClaimHolder, run: RunState | None, now: datetime, grace: timedelta
) -> str | None:
    """Why `holder`'s claims go back to the inbox now, or None while its run may settle them."""
    held = f"holding {holder.rows} inbox rows"
    if run is None:
        if now - holder.claimed_at >= grace:
            return f"run {holder.run_id} is unknown to the Dagster instance, {held}"
        return None
    if run.status in ENDED:
        since = run.ended_at or holder.claimed_at
        if now - since >= grace:
            return f"run {holder.run_id} ended ({run.status}) {held}"
        return None
    if run.status in NOT_STARTED and now - holder.claimed_at >= grace:
        return f"run {holder.run_id} is {run.status}, yet {held}"
    return None
