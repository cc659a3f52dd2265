"""`SandboxFront`: the ASGI front the small sandboxes (Slack, Outreach, enrichment) share.

It answers the Attio sandbox's admin routes under `/_sandbox/` (faults, config, reset, stats;
never authenticated, limited or faulted), counts requests, adds latency and injects faults
(`revops_sandbox.attio.limits.Faults`) around the sandbox's own API: a 5xx instead of
the answer, a dropped connection before or after the API ran, or the answer held back too long.
A subclass sets `CONFIG_KEYS` and `_api` (a method or an ASGI app) and implements `_reset_state`
and `_send_fault`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revops_sandbox.attio import admin
from revops_sandbox.attio.gateway import Stats, drop_connection, still_connected_after
from revops_sandbox.attio.limits import Faults

SERVER_FAULTS = ("500", "503")  # the fault kinds answered with an error status


def authorization(scope: Scope) -> str:
    """The request's Authorization header ("" when absent)."""
    return dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")


class SandboxFront:
    """Lock, faults, stats and the admin app; `configure`/`config`/`reset`; the ASGI front."""

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ()  # what configure() changes and config() shows
    INT_KEYS: ClassVar[frozenset[str]] = frozenset()  # settings kept as int (others float)
    POSITIVE_KEYS: ClassVar[frozenset[str]] = frozenset()  # settings that must be above zero
    latency_ms: float
    _api: ASGIApp  # the sandbox's own API, behind the front (a method or an app set in __init__)

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults, self._stats = Faults(), Stats()
        self._admin = Starlette(routes=admin.ROUTES)
        self._admin.state.sandbox = self
        self.app: ASGIApp = self  # the sandbox is its own ASGI app (see __call__)

    # --- configuration ---------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change any of `CONFIG_KEYS` while serving; answers the whole configuration."""
        self._check_keys(changes)
        for key, value in changes.items():
            self._set(key, value)
        return self.config()

    def config(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.CONFIG_KEYS}

    def _check_keys(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(self.CONFIG_KEYS)
        if unknown:
            keys = list(self.CONFIG_KEYS)
            raise ValueError(f"unknown sandbox settings {sorted(unknown)}; use {keys}")

    def _set(self, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{key} must be a non-negative number")
        if key in self.POSITIVE_KEYS and value <= 0:
            raise ValueError(f"{key} must be positive")
        setattr(self, key, int(value) if key in self.INT_KEYS else float(value))

    def reset(self) -> None:
        """The seeded state (see `_reset_state`); empty stats and no faults."""
        with self.lock:
            self._reset_state()
        self._stats.reset()
        self.faults.clear()

    def _reset_state(self) -> None:
        """Put the sandbox's own data back to its seed (called under the lock)."""
        raise NotImplementedError

    # --- the ASGI front: admin, stats, latency and faults ----------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self._admin(scope, receive, send)
            return
        self._stats.bump("requests", f"{scope['method']} {self._route(scope['path'])}")
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        await self._gate(scope, receive, send)

    def _route(self, path: str) -> str:
        """The path as counted in stats (a subclass may fold ids into a template)."""
        return path

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What runs before faults are picked (a subclass may check auth or limits first)."""
        await self._inject_faults(scope, receive, send)

    async def _inject_faults(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str] | None = None
    ) -> None:
        """Serve the API with the next picked fault, if any; `headers` go on every answer."""
        fault = self.faults.pick(scope["method"], scope["path"])
        if fault:
            self._stats.bump("faults", fault)
        if fault in SERVER_FAULTS:
            await self._send_fault(send, int(fault or 0), headers or {})
            return
        if fault == "drop_before_apply":
            await drop_connection(send)
            return
        held: list[Message] = []

        async def capture(message: Message) -> None:
            if headers and message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            if fault:
                held.append(message)
            else:
                await send(message)

        await self._api(scope, receive, capture)
        if fault == "drop_after_apply":
            await drop_connection(send)
        elif fault == "timeout_after_apply" and await still_connected_after(
            receive, self.faults.timeout_seconds
        ):
            for message in held:
                await send(message)

    async def _send_fault(self, send: Send, status: int, headers: dict[str, str]) -> None:
        """Answer an injected 500 or 503 in the API's own error shape."""
        raise NotImplementedError
