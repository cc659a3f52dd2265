"""Fault injection in front of the sandbox app: error answers and dropped connections."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from revops_sandbox.salesforce.errors import FAULT_DEFAULTS, SalesforceApiError

if TYPE_CHECKING:
    from revops_sandbox.salesforce.model import Fault
    from revops_sandbox.salesforce.sandbox import SalesforceSandbox


class FaultInjector:
    """Serves injected faults ahead of the app: an error status, or a dropped connection before
    the request is handled, or after it was handled (the effect happened; the answer is lost)."""

    def __init__(self, sb: SalesforceSandbox, inner: ASGIApp) -> None:
        self.sb, self.inner = sb, inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.inner(scope, receive, send)
            return
        self.sb.counts["requests"] += 1
        fault = self.sb.take_fault(scope["method"], scope["path"])
        if fault is None:
            await self.inner(scope, receive, send)
        elif fault.drop == "before":
            await _drop(send)
        elif fault.drop == "after":
            await self.inner(scope, receive, _discard)
            await _drop(send)
        else:
            await self._answer(fault, scope, receive, send)

    async def _answer(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        status = fault.status or 503
        code, message = FAULT_DEFAULTS.get(status, ("UNKNOWN_EXCEPTION", "Injected failure"))
        error = SalesforceApiError(status, fault.error_code or code, fault.message or message)
        headers = {"Sforce-Limit-Info": self.sb.limit_header()}
        if fault.retry_after:
            headers["Retry-After"] = fault.retry_after
        await error.response(headers)(scope, receive, send)


async def _discard(message: Any) -> None:
    return None


async def _drop(send: Send) -> None:
    """Reset the connection without an answer (uvicorn: abort the transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0.01)  # let the server see the connection is gone
        return
    # Elsewhere: promise a body, send a byte of it, and stop, which makes the server close.
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
    )
    await send({"type": "http.response.body", "body": b"[", "more_body": True})
