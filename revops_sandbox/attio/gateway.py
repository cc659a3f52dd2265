"""The raw-ASGI front of the sandbox: stats, latency, auth, rate limits and fault injection.

It sits outside Starlette so it can do what a real network does to a client: close the
connection without an answer, or after the write was applied, or answer far too late.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revops_sandbox.attio.errors import ApiError
from revops_sandbox.attio.http import INTERNAL_ERROR
from revops_sandbox.attio.limits import ArrivalLog, Faults, Kind, RateLimiter, retry_after

if TYPE_CHECKING:
    from collections.abc import Sequence

READ_POSTS = ("/records/query", "/entries/query", "/records/search")
# UNCONFIRMED: Attio does not document its 5xx bodies; these keep the four-key error shape.
FAULT_BODIES = {
    "500": INTERNAL_ERROR,
    "503": {
        "status_code": 503,
        "type": "internal_server_error",
        "code": "service_unavailable",
        "message": "The service is temporarily unavailable, please try again later.",
    },
}


def request_kind(method: str, path: str) -> Kind:
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if method == "POST" and path.endswith(READ_POSTS):
        return "read"
    return "write"


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.rate_limited = 0
            self.faults: Counter[str] = Counter()
            self.writes_applied = 0

    def bump(self, field: str, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                setattr(self, field, getattr(self, field) + 1)
            else:
                getattr(self, field)[key] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "rate_limited": self.rate_limited,
                "faults_injected": dict(self.faults),
                "writes_applied": self.writes_applied,
            }


async def send_json(
    send: Send, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    head = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(raw)).encode()),
    ]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


async def drop_connection(send: Send) -> None:
    """Close the connection with no (complete) answer, as a reset or a dying proxy would."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if callable(getattr(transport, "abort", None)):  # uvloop's transports are not asyncio's
        # uvicorn's cycle owns the socket: abort it so the client sees no bytes at all.
        transport.abort()
        for _ in range(20):  # let connection_lost mark the cycle disconnected before returning
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)
        return
    # Any other server: promise a body that never comes; returning leaves it incomplete.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the app sees an empty body, then the disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body, replayed = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def still_connected_after(receive: Receive, seconds: float) -> bool:
    """Hold the answer back; stop early once the client has given up (so shutdown is quick)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return True
    return False


class Gateway:
    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        *,
        tokens: Callable[[], dict[str, str]],
        limiter: RateLimiter,
        faults: Faults,
        stats: Stats,
        latency: Callable[[], float],
        arrivals: ArrivalLog | None = None,
    ) -> None:
        self.arrivals = arrivals or ArrivalLog()
        self.app = app
        self.routes = routes
        self.tokens = tokens
        self.limiter = limiter
        self.faults = faults
        self.stats = stats
        self.latency = latency

    def template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", "?"))
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.PARTIAL:
                return str(getattr(route, "path", "?"))
        return "(unmatched)"

    def authenticate(self, scope: Scope) -> str:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not header:
            raise ApiError(
                401,
                "unauthorized",
                "The Authorization header was not provided. Please provide a Bearer token.",
                type_="auth_error",
            )
        scheme, _, token = header.partition(" ")
        token_id = self.tokens().get(token.strip()) if scheme.lower() == "bearer" else None
        if token_id is None:
            raise ApiError(
                401,
                "unauthorized",
                "The access token provided is invalid. Check the Authorization header.",
                type_="auth_error",
            )
        return token_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.stats.bump("requests", f"{method} {self.template(scope)}")
        try:
            token_id = self.authenticate(scope)
        except ApiError as exc:
            await send_json(send, exc.status_code, exc.body())
            return
        kind = request_kind(method, path)
        now = time.time()
        free_at = self.limiter.acquire(token_id, kind, now)
        self.arrivals.record(kind, now, None if free_at is None else math.ceil(free_at))
        if free_at is not None:
            self.stats.bump("rate_limited")
            body = {
                "status_code": 429,
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "message": "Rate limit exceeded, please try again later",
            }
            await send_json(send, 429, body, {"Retry-After": retry_after(free_at)})
            return
        # The edge counts a request when it arrives; the work (and so the answer) takes the
        # latency after that.
        delay = self.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        scope["attio.token_id"] = token_id
        if kind == "write" and self.faults.refuses_anything():
            body, receive = await read_body(receive)
            refused = self.faults.refusal(path, body)
            if refused is not None:
                self.stats.bump("faults", "refuse")
                await send_json(send, refused.status_code, refused.body())
                return
        fault = self.faults.pick(method, path)
        if fault is not None:
            self.stats.bump("faults", fault)
        if fault in FAULT_BODIES:
            await send_json(send, int(fault or 0), FAULT_BODIES[fault or ""])
            return
        if fault == "drop_before_apply":
            await drop_connection(send)
            return
        held: list[Message] = []
        status: list[int] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            if fault is None:
                await send(message)
            else:
                held.append(message)

        await self.app(scope, receive, capture)
        if kind == "write" and status and status[0] < 300:
            self.stats.bump("writes_applied")
        if fault == "drop_after_apply":
            await drop_connection(send)
        elif fault == "timeout_after_apply" and await still_connected_after(
            receive, self.faults.timeout_seconds
        ):
            for message in held:
                await send(message)
