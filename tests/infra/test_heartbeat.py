"""The heartbeat thread: beats on entry and then on its interval, survives a failing beat, and
never beats after its block has exited."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from revops_pipelines.infra.heartbeat import Heartbeat


def test_it_beats_on_entry_then_on_its_interval_and_stops_with_the_block() -> None:
    beats: list[float] = []
    with Heartbeat(lambda: beats.append(time.monotonic()), every=0.05, name="t") as heartbeat:
        assert len(beats) == 1  # before the block's first statement
        deadline = time.monotonic() + 10
        while len(beats) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 4 and heartbeat.beats == len(beats)
    stopped = len(beats)
    time.sleep(0.2)
    assert len(beats) == stopped  # nothing after the exit
    assert not any(t.name == "heartbeat t" for t in threading.enumerate())


def test_a_failing_beat_is_logged_and_the_next_one_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("database restarting")

    with (
        caplog.at_level(logging.WARNING, logger="revops.heartbeat"),
        Heartbeat(flaky, every=0.02, name="run r") as heartbeat,
    ):
        deadline = time.monotonic() + 10
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(calls) >= 4 and heartbeat.beats == len(calls) - 1
    assert "heartbeat of run r missed: database restarting" in caplog.text


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        Heartbeat(lambda: None, every=0, name="t")
