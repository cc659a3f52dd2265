"""Which runs' inbox claims are orphaned, from what the Dagster instance says of the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revops_pipelines.domain.run_liveness import ClaimHolder, RunState, orphaned_because

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)
HOLDER = ClaimHolder("run-1", rows=3, claimed_at=NOW - timedelta(minutes=10))


@pytest.mark.parametrize("status", ["SUCCESS", "FAILURE", "CANCELED"])
def test_an_ended_run_s_claims_go_back_once_the_grace_after_its_end_passed(status: str) -> None:
    just_ended = RunState(status, ended_at=NOW - timedelta(seconds=30))
    assert orphaned_because(HOLDER, just_ended, NOW, GRACE) is None  # the failure sensor's turn
    ended = RunState(status, ended_at=NOW - timedelta(minutes=3))
    reason = orphaned_because(HOLDER, ended, NOW, GRACE)
    assert reason == f"run run-1 ended ({status}) holding 3 inbox rows"


def test_an_ended_run_without_an_end_time_counts_from_its_claim() -> None:
    assert orphaned_because(HOLDER, RunState("FAILURE"), NOW, GRACE) is not None
    fresh = ClaimHolder("run-1", 1, NOW - timedelta(seconds=5))
    assert orphaned_because(fresh, RunState("FAILURE"), NOW, GRACE) is None


def test_a_run_the_instance_does_not_know_loses_its_claims_after_the_grace() -> None:
    fresh = ClaimHolder("run-x", 2, NOW - timedelta(seconds=30))
    assert orphaned_because(fresh, None, NOW, GRACE) is None
    reason = orphaned_because(HOLDER, None, NOW, GRACE)
    assert reason == "run run-1 is unknown to the Dagster instance, holding 3 inbox rows"


@pytest.mark.parametrize("status", ["QUEUED", "NOT_STARTED", "STARTING"])
def test_a_run_not_started_cannot_be_the_one_working_its_claims(status: str) -> None:
    reason = orphaned_because(HOLDER, RunState(status), NOW, GRACE)
    assert reason == f"run run-1 is {status}, yet holding 3 inbox rows"


@pytest.mark.parametrize("status", ["STARTED", "CANCELING"])
def test_a_live_run_keeps_its_claims_however_old(status: str) -> None:
    old = ClaimHolder("run-1", 3, NOW - timedelta(hours=5))
    assert orphaned_because(old, RunState(status), NOW, GRACE) is None
