"""Child process groups of the CLI: start a command in a group of its own, and stop everything in
that group, however deep (`dg dev` starts the webserver and the daemon, which start code
servers, which start run workers; `dg launch` starts a process per step).

A group of its own keeps a terminal's Ctrl-C away from the children, so the CLI decides how they
stop: the first signal to the whole group, a wait until every member has exited, then SIGKILL.
`interrupt_on_signals` makes SIGTERM (what a process manager sends) behave like Ctrl-C, and
Ctrl-C itself work in a process started with SIGINT ignored (a background job of a script), so
the `finally` blocks that stop the groups run for both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

# After SIGKILL, how long to wait for the members to be gone (they cannot refuse, but a process
# in uninterruptible I/O exits only when that I/O ends).
KILL_GRACE_SECONDS = 10.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member exists (it changed user): still alive
        return True
    return True


@contextmanager
def _second_signal_hurries(hurry: threading.Event) -> Iterator[None]:
    """While a group is being stopped, a second Ctrl-C or SIGTERM kills it at once instead of
    interrupting the wait (which would leave the group running)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: hurry.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class Stopped:
    """How a group's stop went: seconds from the first signal until no member was left, and
    whether it took SIGKILL (or ended with a member stuck in the kernel)."""

    seconds: float
    killed: bool
    stuck: bool = False

    def describe(self) -> str:
        how = "after SIGKILL" if self.killed else "on the first signal"
        stuck = ", a member stuck in the kernel" if self.stuck else ""
        return f"{self.seconds:.1f} s, {how}{stuck}"


def stop_process_group(
    process: subprocess.Popen[Any],
    first: signal.Signals,
    timeout: float,
    *,
    poll_seconds: float = 0.1,
) -> Stopped:
    """Send `first` to the process group led by `process` (started with `start_new_session`),
    wait until every member has exited, not only the leader, and SIGKILL the group after
    `timeout` seconds."""
    pgid = process.pid
    started = time.monotonic()
    stuck = False
    hurry = threading.Event()
    with _second_signal_hurries(hurry):
        with suppress(ProcessLookupError):
            os.killpg(pgid, first)
        deadline = time.monotonic() + timeout
        killed_at: float | None = None
        while True:
            process.poll()  # reap the leader: a zombie still counts as a member of the group
            if not _group_alive(pgid):
                break
            now = time.monotonic()
            if killed_at is None and (hurry.is_set() or now > deadline):
                with suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                killed_at = now
            elif killed_at is not None and now - killed_at > KILL_GRACE_SECONDS:
                stuck = True  # a member stuck in the kernel: nothing more a signal can do
                break
            time.sleep(poll_seconds)
        process.wait()
    return Stopped(time.monotonic() - started, killed_at is not None, stuck)


def run_in_group(
    args: Sequence[str],
    *,
    stop_timeout: float = 30.0,
    on_stopped: Callable[[Stopped], None] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True)` in a process group of its own: when
    the wait is interrupted (Ctrl-C, SIGTERM), the whole group is stopped, not only the leader
    (which `subprocess.run` would SIGKILL, leaving its children running), and `on_stopped` hears
    how that went."""
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )
    try:
        out, err = process.communicate()
    except BaseException:
        stopped = stop_process_group(process, signal.SIGINT, timeout=stop_timeout)
        if on_stopped is not None:
            on_stopped(stopped)
        raise
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGINT raise KeyboardInterrupt in the main thread. Python's
    default for SIGTERM ends the process at once, skipping every `finally`; and a process that
    inherited SIGINT ignored (`cmd &` in a shell script, whose background jobs ignore it) keeps
    ignoring it, so a `kill -INT` would leave every child running."""
    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGTERM, _raise_interrupt),
            (signal.SIGINT, signal.default_int_handler),
        )
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
