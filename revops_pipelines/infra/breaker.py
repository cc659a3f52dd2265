"""Circuit breakers for the outside APIs: after repeated transient failures, fail fast.

One `ApiBreaker` per API, base URL and credential in a process (`breaker_for`, shared like the
rate budgets). pybreaker runs the state machine (closed -> open after `fail_max` consecutive
counted failures -> half-open after `reset_timeout` -> closed by a good probe, open again by a
bad one). Around it, this module decides:

- what counts (`counts_toward_opening`): an `ApiError` whose `outage` is set (no answer, 408,
  5xx). A 429 is a budget the retry policy waits out, and other 4xx show a working API: they do
  not count, and like a success they end a streak.
- what a client wraps: one logical call with its retries (`calling()`, which the retry
  policy's `call`/`acall` enter), so a blip a retry absorbs never counts, and an open breaker
  means `fail_max` calls in a row gave up.
- one probe at a time when half-open (pybreaker admits every caller then).
- `CircuitOpenError`, naming the API and the last errors; state changes logged; `snapshot()`
  for run metadata. Thresholds: `breaker_settings()`, the one place that reads them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
import pybreaker
import requests

from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.settings import load_settings

# Under Dagster's builtin logger, so state changes show in the run's own log as well.
log = dg.get_dagster_logger("revops.breaker")

FAIL_MAX_ENV = "REVOPS_BREAKER_FAIL_MAX"
RESET_SECONDS_ENV = "REVOPS_BREAKER_RESET_SECONDS"
DEFAULT_FAIL_MAX = 5
DEFAULT_RESET_SECONDS = 30.0
_LAST_ERRORS_KEPT = 3
_ERROR_TEXT_CHARS = 200


@dataclass(frozen=True)
class BreakerSettings:
    fail_max: int = DEFAULT_FAIL_MAX
    reset_timeout: float = DEFAULT_RESET_SECONDS

    def __post_init__(self) -> None:
        if self.fail_max < 1:
            raise ValueError(f"{FAIL_MAX_ENV} must be at least 1, got {self.fail_max}")
        if self.reset_timeout <= 0:
            raise ValueError(f"{RESET_SECONDS_ENV} must be above 0, got {self.reset_timeout}")


def breaker_settings() -> BreakerSettings:
    """The breaker thresholds of the `REVOPS_ENV` profile, overridden by
    `REVOPS_BREAKER_FAIL_MAX` (exhausted calls in a row) and `REVOPS_BREAKER_RESET_SECONDS`;
    every breaker created afterwards uses them."""
    settings = load_settings()
    return BreakerSettings(
        fail_max=settings.breaker_fail_max, reset_timeout=settings.breaker_reset_seconds
    )


class CircuitOpenError(ApiError, RuntimeError):
    """The API's breaker is open: the call was refused without a request.

    An `ApiError` that is not retryable within the call and never ambiguous (nothing was sent),
    so the retry policy and send-once pass it straight up; a later run or step retry is the
    next probe. Not an outage either: the breaker's own refusal never counts toward opening it.
    """

    def __init__(
        self, api: str, failures: int, last_errors: list[str], retry_in: float, *, probing: bool
    ) -> None:
        self.api, self.failures, self.last_errors = api, failures, last_errors
        self.retry_in = retry_in
        last = "; ".join(last_errors) or "no error recorded"
        seconds = f"{retry_in:.0f}" if retry_in >= 10 else f"{retry_in:.1f}"
        when = "a probe is in flight" if probing else f"next probe in {seconds} s"
        super().__init__(
            f"{api} circuit open after {failures} consecutive transient failures "
            f"(last: {last}); {when}"
        )


def is_transient_status(status: int | None) -> bool:
    """An HTTP answer that says the API is unwell: 408 or any 5xx (429 is a budget, not this)."""
    return status is not None and (status == 408 or 500 <= status <= 599)


def counts_toward_opening(exc: BaseException) -> bool:
    """Does this failure of a whole call (after its retries) count toward opening the breaker?

    Every client's errors are `ApiError`s and say so in `outage`. A third-party error that
    escaped a client unmapped (requests, httpx, simple-salesforce) is judged by its kind.
    """
    if isinstance(exc, ApiError):
        return exc.outage
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a trust or certificate problem: configuration, not an outage
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | httpx.TransportError,
    ):
        return True
    # Imported here, not with the module: loading the definitions must not load it.
    from simple_salesforce import exceptions as sf_exc

    if isinstance(exc, sf_exc.SalesforceAuthenticationFailed):
        status = exc.code  # the login's HTTP status, or a SOAP fault's code (a string)
    elif isinstance(exc, sf_exc.SalesforceError):
        status = exc.status
    else:
        return False
    return isinstance(status, int) and is_transient_status(status)


class ApiBreaker(pybreaker.CircuitBreakerListener):
    """The circuit breaker of one API credential. Wrap each logical call in `calling()`. It
    listens to its own pybreaker breaker, to keep the last errors and log state changes."""

    def __init__(
        self,
        api: str,
        *,
        fail_max: int = DEFAULT_FAIL_MAX,
        reset_timeout: float = DEFAULT_RESET_SECONDS,
    ) -> None:
        BreakerSettings(fail_max, reset_timeout)  # validates
        self.api = api
        self._lock = threading.Lock()
        self._probing = False
        self._streak = 0  # consecutive counted failures, kept until the breaker closes
        self._last_errors: deque[str] = deque(maxlen=_LAST_ERRORS_KEPT)
        self._opened_at_monotonic = 0.0
        self.times_opened = 0
        self.calls_refused = 0
        self._cb = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            # pybreaker treats an excluded error like a success: the API answered.
            exclude=[lambda exc: not counts_toward_opening(exc)],
            listeners=[self],
            name=api,
            # The call that trips the breaker raises its own error, not pybreaker's: callers
            # still need its `ambiguous` flag to know whether a write may have landed.
            throw_new_error_on_trip=False,
        )

    @property
    def state(self) -> str:
        return str(self._cb.current_state)

    @property
    def fail_max(self) -> int:
        return self._cb.fail_max

    @property
    def reset_timeout(self) -> float:
        return float(self._cb.reset_timeout)

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Run the block as one call under the breaker: refused at once (CircuitOpenError)
        while open, the single probe when half-open. Works around an `await` too: pybreaker's
        lock is only held while the call is admitted, never across the block."""
        with self._lock:
            if self._probing or self._refusing():
                raise self._refusal()
            try:
                admitted = self._cb.calling()
                admitted.__enter__()
            except pybreaker.CircuitBreakerError:
                raise self._refusal() from None
            probe = self._cb.current_state == pybreaker.STATE_HALF_OPEN
            self._probing = probe
        try:  # hand the block's outcome to pybreaker's context manager, entered above
            yield
        except BaseException as exc:
            if not admitted.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            admitted.__exit__(None, None, None)
        finally:
            if probe:
                with self._lock:
                    self._probing = False

    def check(self) -> None:
        """Refuse (CircuitOpenError) while open: a retry inside a call that was admitted
        before the breaker opened stops there instead of sending again."""
        if self._refusing():
            raise self._refusal()

    def snapshot(self) -> dict[str, Any]:
        """The breaker for run metadata: state, counts and the last errors."""
        return {
            "api": self.api,
            "state": self.state,
            "consecutive_failures": self._streak,
            "fail_max": self.fail_max,
            "reset_seconds": self.reset_timeout,
            "times_opened": self.times_opened,
            "calls_refused": self.calls_refused,
            "last_errors": list(self._last_errors),
        }

    # --- internals ---------------------------------------------------------------------------
    def _refusing(self) -> bool:
        return self.state == pybreaker.STATE_OPEN and self._retry_in() > 0

    def _retry_in(self) -> float:
        return max(0.0, self._opened_at_monotonic + self.reset_timeout - time.monotonic())

    def _refusal(self) -> CircuitOpenError:
        self.calls_refused += 1
        errors, retry_in = list(self._last_errors), self._retry_in()
        return CircuitOpenError(self.api, self._streak, errors, retry_in, probing=self._probing)

    # pybreaker's listener callbacks
    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self._streak += 1
        self._last_errors.append(str(exc)[:_ERROR_TEXT_CHARS] or type(exc).__name__)

    def success(self, cb: pybreaker.CircuitBreaker) -> None:
        if cb.current_state == pybreaker.STATE_CLOSED:
            self._streak = 0

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self._on_state_change(old_state.name if old_state else None, new_state.name)

    def _on_state_change(self, old: str | None, new: str) -> None:
        if old == new == pybreaker.STATE_OPEN:
            # A call admitted before the breaker opened failed too: pybreaker restarts the wait.
            self._opened_at_monotonic = time.monotonic()
            log.warning("%s circuit stays open: another transient failure", self.api)
        elif new == pybreaker.STATE_OPEN:
            self._opened_at_monotonic = time.monotonic()
            self.times_opened += 1
            log.warning(
                "%s circuit opened after %d consecutive transient failures (last: %s); "
                "calls fail fast for %.1f s, then one probe",
                self.api,
                self._streak,
                self._last_errors[-1] if self._last_errors else "?",
                self.reset_timeout,
            )
        elif new == pybreaker.STATE_HALF_OPEN:
            log.info("%s circuit half-open: one probe call goes through", self.api)
        elif old is not None:
            self._streak = 0
            log.info("%s circuit closed: the probe succeeded", self.api)


class BreakerGuard:
    """Mixed into a resource: its `circuit_breaker()` and `breaker_state()` for run metadata.
    The resource says which API, URL and credential identify its breaker."""

    def breaker_identity(self) -> tuple[str, str, str]:
        """(API name, base URL, credential); an empty credential: not configured."""
        raise NotImplementedError

    def circuit_breaker(self) -> ApiBreaker:
        return breaker_for(*self.breaker_identity())

    def breaker_state(self) -> dict[str, Any]:
        """A small dict for asset metadata; no breaker is created for an absent integration."""
        api, _, credential = self.breaker_identity()
        if not credential:
            return {"api": api, "state": "not configured"}
        return self.circuit_breaker().snapshot()


_registry: dict[tuple[str, str, str], ApiBreaker] = {}
_registry_lock = threading.Lock()


def breaker_for(
    api: str, base_url: str, credential: str, settings: BreakerSettings | None = None
) -> ApiBreaker:
    """The shared breaker of this API, URL and credential (keyed by a hash: the credential is
    never kept). Created with `settings`, else `breaker_settings()`, on first use."""
    digest = hashlib.sha256(credential.strip().encode()).hexdigest()
    key = (api, base_url.rstrip("/"), digest)
    with _registry_lock:
        if key not in _registry:
            chosen = settings or breaker_settings()
            _registry[key] = ApiBreaker(
                api, fail_max=chosen.fail_max, reset_timeout=chosen.reset_timeout
            )
        return _registry[key]


def reset_breakers() -> None:
    """Forget every breaker (tests; a fresh process starts empty anyway)."""
    with _registry_lock:
        _registry.clear()


def breaker_states(*resources: BreakerGuard) -> dict[str, dict[str, Any]]:
    """Each resource's breaker by API name: one `circuit_breakers` entry of asset metadata."""
    return {r.breaker_identity()[0].lower(): r.breaker_state() for r in resources}
