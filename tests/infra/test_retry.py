"""The one retry policy: Retry-After (an HTTP date or seconds), jittered backoff within its
bounds, the attempt limit and the cap on the total wait, the same for sync and async callers,
and a real client honouring a real server's Retry-After date."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.retry import (
    RETRY_AFTER_JITTER_SECONDS,
    RetrySettings,
    acall,
    call,
    next_wait,
    retry_after_seconds,
)
from revops_pipelines.resources.outreach import OutreachError, OutreachResource

NOW = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


class Refused(ApiError):
    """An API's refusal as a client would raise it."""

    def __init__(self, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__("refused")
        self.retryable, self.retry_after_seconds = retryable, retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Fri, 20 Nov 2026 09:00:03 GMT", 3.0),  # an HTTP date, three seconds on
        ("Friday, 20-Nov-26 09:00:03 GMT", 3.0),  # the obsolete RFC 850 form
        ("Fri, 20 Nov 2026 08:59:00 GMT", 0.0),  # past: no negative wait
        ("7", 7.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_dates_and_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == expected


def test_a_server_clock_far_from_ours_is_the_reference() -> None:
    server_now = format_datetime(NOW + timedelta(minutes=5), usegmt=True)
    until = format_datetime(NOW + timedelta(minutes=5, seconds=4), usegmt=True)
    assert retry_after_seconds(until, now=NOW, server_date=server_now) == 4.0


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    random.seed(11)
    settings = RetrySettings(initial_backoff_seconds=0.5, max_backoff_seconds=3.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        waits = [next_wait(settings, attempt, Refused(retryable=True)) for _ in range(400)]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Full jitter: the draws spread over the whole range, not around one value.
        assert min(waits) < 0.1 * ceiling and max(waits) > 0.9 * ceiling


def test_a_retry_after_wins_over_backoff_with_a_little_jitter() -> None:
    random.seed(3)
    settings = RetrySettings(initial_backoff_seconds=0.01, max_backoff_seconds=0.01)
    waits = [next_wait(settings, 5, Refused(retryable=True, retry_after=2.0)) for _ in range(200)]
    assert all(2.0 <= w <= 2.0 + RETRY_AFTER_JITTER_SECONDS for w in waits)
    assert len(set(waits)) > 1


class Flaky:
    """Fails `failures` times with `error`, then answers; counts its calls."""

    def __init__(self, error: ApiError, failures: int = 10**6) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "answer"

    async def asynchronously(self) -> str:
        return self()


def run_both(settings: RetrySettings, error: ApiError) -> list[tuple[str, int, int]]:
    """The same failing call through `call` and `acall`: (outcome, calls, attempts) of each."""
    results = []
    for kind in ("sync", "async"):
        flaky = Flaky(error)
        try:
            if kind == "sync":
                call(flaky, settings)
            else:
                asyncio.run(acall(flaky.asynchronously, settings))
        except ApiError as exc:
            results.append((type(exc).__name__, flaky.calls, exc.attempts))
    return results


def test_attempts_are_bounded_the_same_for_sync_and_async() -> None:
    settings = RetrySettings(max_attempts=3, initial_backoff_seconds=0.001)
    assert run_both(settings, Refused(retryable=True)) == [("Refused", 3, 3)] * 2


def test_an_error_that_is_not_retryable_is_sent_once() -> None:
    settings = RetrySettings(max_attempts=5, initial_backoff_seconds=0.001)
    assert run_both(settings, Refused(retryable=False)) == [("Refused", 1, 1)] * 2


def test_the_total_wait_is_capped_before_a_sleep_would_pass_it() -> None:
    # Each Retry-After asks 0.3 s (plus up to 0.1 s of jitter); a 0.85 s cap allows two waits,
    # never a third.
    settings = RetrySettings(max_attempts=10, max_total_wait_seconds=0.85)
    flaky = Flaky(Refused(retryable=True, retry_after=0.3))
    started = time.monotonic()
    with pytest.raises(Refused) as info:
        call(flaky, settings)
    elapsed = time.monotonic() - started
    assert flaky.calls == 3 and info.value.attempts == 3
    assert 0.6 <= info.value.waited_seconds <= 0.85
    assert 0.6 <= elapsed < 1.2


def test_a_call_that_recovers_returns_its_answer() -> None:
    flaky = Flaky(Refused(retryable=True), failures=2)
    assert call(flaky, RetrySettings(initial_backoff_seconds=0.001)) == "answer"
    assert flaky.calls == 3


# --- a real client against a real server -------------------------------------------------------


class Script:
    """What the server answers, request by request, and when each request arrived."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.arrivals: list[float] = []


@pytest.fixture
def server() -> Iterator[tuple[Script, str]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.arrivals.append(time.monotonic())
            status, headers = script.answers.pop(0) if script.answers else (200, {})
            body = b'{"data": []}' if status == 200 else b'{"errors": [{"id": "x"}]}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{httpd.server_address[1]}/api/v2"
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(url: str, **settings: object) -> OutreachResource:
    return OutreachResource(access_token="t", base_url=url, mailbox_id="1", **settings)


def test_a_real_client_waits_until_a_retry_after_date(server: tuple[Script, str]) -> None:
    script, url = server
    # An HTTP date has whole seconds: two seconds on is between one and two from now.
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    script.answers = [(429, {"Retry-After": format_datetime(until, usegmt=True)})]
    outreach = client(url)
    try:
        assert outreach.find_prospect("ada@analytical.example") is None
    finally:
        outreach.close()
    first, second = script.arrivals
    assert 1.0 <= second - first <= 2.0 + RETRY_AFTER_JITTER_SECONDS + 0.3


def test_a_real_client_gives_up_at_its_attempt_limit(server: tuple[Script, str]) -> None:
    script, url = server
    script.answers = [(503, {})] * 10
    outreach = client(url, max_attempts=3)
    try:
        with pytest.raises(OutreachError) as info:
            outreach.find_prospect("ada@analytical.example")
    finally:
        outreach.close()
    assert (info.value.status_code, info.value.attempts, len(script.arrivals)) == (503, 3, 3)
