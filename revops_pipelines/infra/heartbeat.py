"""A heartbeat: a callable made once on entry, then every few seconds on a daemon thread, until
the block exits.

It shows that a process is alive (a run's, in `services/run_heartbeat.py`), so it must stop
exactly when the process does: the thread is a daemon (it dies with the process and never holds
it open), and the block's exit stops and joins it. A beat that fails is logged and tried again
at the next one; whoever reads the beats allows several to be missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

JOIN_SECONDS = 30.0


class Heartbeat:
    """`with Heartbeat(beat, every=15.0, name="run 1234"):` calls `beat()` now and every
    `every` seconds while the block runs; `beats` counts the calls that succeeded."""

    def __init__(
        self,
        beat: Callable[[], None],
        *,
        every: float,
        name: str,
        log: logging.Logger | None = None,
    ) -> None:
        if every <= 0:
            raise ValueError(f"a heartbeat needs a positive interval, not {every}")
        self.beat, self.every, self.name = beat, every, name
        self.log = log or logging.getLogger("revops.heartbeat")
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat {name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat_once()  # the first beat is there before the block does anything
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        # A beat in flight finishes first, so none lands after the caller cleans up; bounded, so
        # a hung database cannot hold the process (a late beat of an ended run is harmless).
        self._thread.join(timeout=JOIN_SECONDS)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._beat_once()

    def _beat_once(self) -> None:
        try:
            self.beat()
        except Exception as exc:  # a missed beat is not fatal; the reader allows several
            self.log.warning("heartbeat of %s missed: %s", self.name, exc)
        else:
            self.beats += 1
