"""One HTTP request to Attio: budget, concurrency cap, retries, and error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from revops_pipelines.infra.breaker import ApiBreaker
from revops_pipelines.infra.rate_budget import INTERACTIVE, Priority, RateBudget
from revops_pipelines.infra.retry import RetrySettings, acall, retry_after_seconds
from revops_pipelines.resources.attio.errors import AttioConfigError, AttioError

log = logging.getLogger("revops.attio")

DEFAULT_BASE_URL = "https://api.attio.com/v2"
API_KEY_ENV = "ATTIO_API_KEY"
Kind = Literal["read", "write"]

# The request never reached Attio: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have been applied before the failure.
_MAYBE_APPLIED = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
_TRANSIENT_STATUSES = {408, 500, 502, 503, 504}


class AttioTransport:
    """Sends requests within the credential's budget and retries what is safe to retry."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        budget: RateBudget,
        retry: RetrySettings,
        timeout_seconds: float,
        max_concurrency: int,
        breaker: ApiBreaker,
        http_transport: httpx.AsyncBaseTransport | None = None,
        priority: Priority = INTERACTIVE,
    ) -> None:
        if not api_key or not api_key.strip():
            raise AttioConfigError(
                f"{API_KEY_ENV} is not set: create an Attio access token and export it"
            )
        self._budget = budget
        # Interactive (leads, events) draws first; bulk (syncs, usage) takes what is left.
        self.priority = priority
        self._retry = retry
        self.breaker = breaker
        self._in_flight = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key.strip()}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            transport=http_transport,
        )
        self.requests_sent = 0
        self.retries = 0
        # Seconds each recent request waited for the budget (metadata, benchmarks).
        self.budget_waits: deque[float] = deque(maxlen=1000)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: Kind,
        idempotent: bool,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one logical call and return the decoded JSON body of the successful answer.

        The breaker counts whole calls, not attempts: tenacity's retries absorb the blips (a
        10% fault rate never trips it), so an open breaker means `fail_max` calls in a row
        exhausted their retries. A retry inside a call admitted before the breaker opened
        stops at `check()` instead of sending again.
        """
        try:
            return await acall(
                lambda: self._attempt(method, path, kind, idempotent, params, json),
                self._retry,
                breaker=self.breaker,
                on_retry=self._count_retry,
            )
        except AttioError as exc:
            if exc.attempts > 1:
                log.warning("%s", exc)
            raise

    def _count_retry(self) -> None:
        self.retries += 1

    async def write_data(
        self,
        method: str,
        path: str,
        data: Any,
        *,
        idempotent: bool,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send `{"data": data}` (Attio's write envelope) and return the answer's `data`."""
        body = await self.request(
            method, path, params=params, json={"data": data}, kind="write", idempotent=idempotent
        )
        return body["data"]

    async def delete(self, path: str) -> bool:
        """DELETE `path`; False when it was already gone (a retried delete finds 404)."""
        try:
            await self.request("DELETE", path, kind="write", idempotent=True)
        except AttioError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    async def _attempt(
        self,
        method: str,
        path: str,
        kind: Kind,
        idempotent: bool,
        params: dict[str, Any] | None,
        json: Any,
    ) -> Any:
        async with self._in_flight, self._budget.slot(kind, self.priority) as slot:
            self.budget_waits.append(slot.waited)
            self.requests_sent += 1

            async def trace(event: str, _info: dict[str, Any]) -> None:
                if event.endswith("send_request_body.complete"):
                    slot.sent()

            # Only a budget that counts from the sending needs to know when the body left.
            marks = {"trace": trace} if self._budget.transit_ms is not None else None
            try:
                response = await self._http.request(
                    method, path.lstrip("/"), params=params, json=json, extensions=marks
                )
            except _NOT_SENT as exc:
                raise _transport_error(method, path, exc, retryable=True, ambiguous=False) from exc
            except _MAYBE_APPLIED as exc:
                # A non-idempotent write may have been applied: the caller must look first.
                raise _transport_error(
                    method, path, exc, retryable=idempotent, ambiguous=not idempotent
                ) from exc
        if response.is_success:
            return response.json() if response.content else {}
        error = _error_from_response(method, path, response, idempotent)
        if error.status_code == 429:
            # Every process sharing the credential stops until Retry-After, not just this call.
            self._budget.pause(kind, error.retry_after_seconds or 1.0)
        raise error


def _transport_error(
    method: str, path: str, exc: Exception, *, retryable: bool, ambiguous: bool
) -> AttioError:
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_error"
    detail = str(exc) or type(exc).__name__
    return AttioError(
        method=method,
        path=path,
        status_code=None,
        type="transport_error",
        code=code,
        message=f"{type(exc).__name__}: {detail}",
        retryable=retryable,
        ambiguous=ambiguous,
    )


def _error_from_response(
    method: str, path: str, response: httpx.Response, idempotent: bool
) -> AttioError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {
            "type": "unexpected_response",
            "code": "unexpected_response",
            "message": response.text[:200] or response.reason_phrase,
        }
    message = str(body.get("message") or response.reason_phrase)
    retry_after = None
    retryable = False
    ambiguous = False
    if status == 429:
        # Attio: "a rate limited response means that we have not processed the request".
        retryable = True
        retry_after = retry_after_seconds(
            response.headers.get("Retry-After"),
            now=datetime.now(UTC),
            server_date=response.headers.get("Date"),
        )
    elif status == 409 and body.get("code") == "concurrent_write_conflict":
        # Documented for activity records (UNCONFIRMED for others): rejected, so safe to resend.
        retryable = True
    elif status in _TRANSIENT_STATUSES:
        # A 5xx on a non-idempotent write may hide an applied write: look before resending.
        retryable = idempotent
        ambiguous = not idempotent
    elif status in (401, 403):
        message = f"{message} (check {API_KEY_ENV} and the token's scopes)"
    return AttioError(
        method=method,
        path=path,
        status_code=status,
        type=str(body.get("type", "unknown")),
        code=str(body.get("code", "unknown")),
        message=message,
        validation_errors=body.get("validation_errors"),
        retryable=retryable,
        ambiguous=ambiguous,
        retry_after_seconds=retry_after,
    )
