"""The retry policy of every API client: which failures to retry, and how long to wait.

One policy for all: a failure is retried when it is an `ApiError` whose `retryable` is set (each
client decides that per request: a 429 always, a 5xx or lost answer only when repeating the
request is safe). The wait honours the error's `Retry-After` (an HTTP date or seconds), else
exponential backoff with full jitter; the loop is bounded by a number of attempts and by a cap
on the total time spent waiting, whichever comes first. tenacity runs the loop; `call` and
`acall` are the same policy for sync and async clients, under the API's circuit breaker.

An inbox row handed back by a run waits by the same rule at a coarser scale (`handback_delays`):
exponential by its attempts, capped, from the settings profile.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import dagster as dg
import tenacity

from revops_pipelines.infra.breaker import ApiBreaker
from revops_pipelines.infra.errors import ApiError

# Under Dagster's builtin logger, so retries show in the run's own log as well.
log = dg.get_dagster_logger("revops.retry")
T = TypeVar("T")

# Past this much disagreement between our clock and the server's `Date`, trust the server's.
_CLOCK_SKEW_TOLERANCE_SECONDS = 2.0
# Spread over waiters released by the same Retry-After, so they do not arrive together.
RETRY_AFTER_JITTER_SECONDS = 0.1


def retry_after_seconds(
    header: str | None, *, now: datetime | None = None, server_date: str | None = None
) -> float | None:
    """Seconds to wait for a `Retry-After` header (an HTTP date or delta-seconds), or None.
    A date is measured from `now` (default: the clock), or from the server's `Date` when the
    two disagree by more than a couple of seconds."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    if server_date:
        try:
            server_now = parsedate_to_datetime(server_date)
            if abs((server_now - reference).total_seconds()) > _CLOCK_SKEW_TOLERANCE_SECONDS:
                reference = server_now
        except (TypeError, ValueError, IndexError):
            pass
    return max(0.0, (until - reference).total_seconds())


@dataclass(frozen=True)
class RetrySettings:
    """Bounds of the retry loop; both limits apply, whichever comes first."""

    max_attempts: int = 6
    max_total_wait_seconds: float = 60.0
    initial_backoff_seconds: float = 0.25
    max_backoff_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_wait_seconds < 0:
            raise ValueError("max_total_wait_seconds cannot be negative")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("backoff seconds cannot be negative")


def next_wait(settings: RetrySettings, attempt_number: int, error: BaseException | None) -> float:
    """How long to wait after failed attempt `attempt_number` (1-based): the error's
    Retry-After plus a little jitter, else a uniform draw below the exponential ceiling."""
    if isinstance(error, ApiError) and error.retry_after_seconds is not None:
        return error.retry_after_seconds + random.uniform(0, RETRY_AFTER_JITTER_SECONDS)
    ceiling = min(
        settings.max_backoff_seconds,
        settings.initial_backoff_seconds * 2 ** (attempt_number - 1),
    )
    return random.uniform(0, ceiling)


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return next_wait(self.settings, retry_state.attempt_number, exc)


class _StopWhenWaitWouldExceedCap(tenacity.stop.stop_base):
    """Stop before a sleep that would take the total wait past the cap (not after it)."""

    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return retry_state.idle_for + upcoming > self.settings.max_total_wait_seconds


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def _policy(settings: RetrySettings, what: str = "") -> dict[str, Any]:
    return {
        "retry": tenacity.retry_if_exception(is_retryable),
        "wait": _WaitRetryAfterOrBackoff(settings),
        "stop": tenacity.stop_after_attempt(settings.max_attempts)
        | _StopWhenWaitWouldExceedCap(settings),
        "before_sleep": lambda state: _log_retry(what or "call", state),
        "reraise": True,
    }


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info(
        "%s: attempt %d failed (%s); retrying in %.2f s",
        what,
        state.attempt_number,
        exc,
        state.upcoming_sleep or 0.0,
    )


def retrying(settings: RetrySettings, what: str = "") -> tenacity.AsyncRetrying:
    """A fresh async loop of the policy, for one logical call."""
    return tenacity.AsyncRetrying(**_policy(settings, what))


def retrying_sync(settings: RetrySettings, what: str = "") -> tenacity.Retrying:
    """A fresh sync loop of the same policy, for one logical call."""
    return tenacity.Retrying(**_policy(settings, what))


def _gave_up(exc: BaseException, statistics: dict[str, Any]) -> None:
    if isinstance(exc, ApiError):
        exc.attempts = int(statistics.get("attempt_number", 1))
        exc.waited_seconds = float(statistics.get("idle_for", 0.0))


def call(
    send: Callable[[], T],
    settings: RetrySettings,
    *,
    breaker: ApiBreaker | None = None,
    on_retry: Callable[[], None] | None = None,
    what: str = "",
) -> T:
    """`send()` under the policy and, when given, the API's breaker. The breaker counts the
    whole call (a blip a retry absorbs never counts); a retry inside a call admitted before the
    breaker opened stops at `check()` instead of sending again."""
    loop = retrying_sync(settings, what)
    try:
        with breaker.calling() if breaker else nullcontext():
            for attempt in loop:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        _retrying_now(breaker, on_retry)
                    return send()
    except BaseException as exc:
        _gave_up(exc, loop.statistics)
        raise
    raise AssertionError("unreachable: the retry loop returns or raises")


async def acall(
    send: Callable[[], Awaitable[T]],
    settings: RetrySettings,
    *,
    breaker: ApiBreaker | None = None,
    on_retry: Callable[[], None] | None = None,
    what: str = "",
) -> T:
    """`call` for a coroutine: the same policy, breaker and statistics."""
    loop = retrying(settings, what)
    try:
        with breaker.calling() if breaker else nullcontext():
            async for attempt in loop:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        _retrying_now(breaker, on_retry)
                    return await send()
    except BaseException as exc:
        _gave_up(exc, loop.statistics)
        raise
    raise AssertionError("unreachable: the retry loop returns or raises")


def _retrying_now(breaker: ApiBreaker | None, on_retry: Callable[[], None] | None) -> None:
    if breaker is not None:
        breaker.check()
    if on_retry is not None:
        on_retry()


def handback_delays(base_seconds: float, max_seconds: float, attempts: int) -> tuple[float, ...]:
    """Seconds a handed-back inbox row waits after its 1st, 2nd, ... failed attempt:
    `base * 2^(n - 1)`, capped at `max_seconds`. (No jitter: the store computes each row's time
    in one statement, and the sensor launches retries in bounded batches anyway.)"""
    return tuple(min(max_seconds, base_seconds * 2 ** (n - 1)) for n in range(1, attempts + 1))
