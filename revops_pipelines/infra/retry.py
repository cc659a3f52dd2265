"""The retry policy of the API clients: which failures to retry, and how long to wait.

Transient failures (429, 5xx, 408, timeouts, dropped connections) are retried with exponential
backoff and full jitter, bounded by a number of attempts and by a cap on the total time spent
waiting. A 429 waits until its `Retry-After` (Attio sends an HTTP date; seconds are accepted too).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import tenacity

from revops_pipelines.infra.errors import ApiError

# Past this much disagreement between our clock and the server's `Date`, trust the server's.
_CLOCK_SKEW_TOLERANCE_SECONDS = 2.0


def retry_after_seconds(
    header: str | None, *, now: datetime, server_date: str | None = None
) -> float | None:
    """Seconds to wait for a `Retry-After` header (an HTTP date or delta-seconds), or None."""
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
    reference = now
    if server_date:
        try:
            server_now = parsedate_to_datetime(server_date)
            if abs((server_now - now).total_seconds()) > _CLOCK_SKEW_TOLERANCE_SECONDS:
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


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after_seconds is not None:
            # A little jitter so waiters released by the same date do not arrive together.
            return exc.retry_after_seconds + random.uniform(0, 0.1)
        ceiling = min(
            self.settings.max_backoff_seconds,
            self.settings.initial_backoff_seconds * 2 ** (retry_state.attempt_number - 1),
        )
        return random.uniform(0, ceiling)


class _StopWhenWaitWouldExceedCap(tenacity.stop.stop_base):
    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return retry_state.idle_for + upcoming > self.settings.max_total_wait_seconds


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def retrying(settings: RetrySettings) -> tenacity.AsyncRetrying:
    """A fresh tenacity loop for one logical call."""
    return tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(_is_retryable),
        wait=_WaitRetryAfterOrBackoff(settings),
        stop=tenacity.stop_after_attempt(settings.max_attempts)
        | _StopWhenWaitWouldExceedCap(settings),
        reraise=True,
    )
