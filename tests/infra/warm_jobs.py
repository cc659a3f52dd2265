"""Jobs the warm run launcher test launches: one that finishes at once, one that waits."""

from __future__ import annotations

import time

import dagster as dg


@dg.op
def answer() -> int:
    return 42


@dg.op
def wait_a_minute() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)


@dg.job(executor_def=dg.in_process_executor)
def quick_job() -> None:
    answer()


@dg.job(executor_def=dg.in_process_executor)
def slow_job() -> None:
    wait_a_minute()
