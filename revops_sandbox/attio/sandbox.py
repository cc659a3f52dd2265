"""`AttioSandbox`: the workspace, its limits and faults, and the ASGI app that serves them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from revops_sandbox.attio import (
    admin,
    routes_activity,
    routes_comments,
    routes_lists,
    routes_records,
    routes_schema,
)
from revops_sandbox.attio.gateway import FAULT_BODIES, Gateway, Stats
from revops_sandbox.attio.http import endpoint_not_found
from revops_sandbox.attio.limits import ArrivalLog, Faults, RateLimiter
from revops_sandbox.attio.schema import SchemaKind
from revops_sandbox.attio.state import Workspace
from revops_sandbox.attio.writes import Writer

_TOKEN_NAMESPACE = uuid.UUID("0b8a3f0e-6a43-4c1e-9d3c-5f1f7c2a9e10")
CONFIG_KEYS = ("write_rate", "read_rate", "latency_ms", "auto_create_company_from_email")


def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(FAULT_BODIES["500"], status_code=500)


class AttioSandbox:
    """A local, faithful stand-in for the Attio REST API v2 (served by `app` under /v2).

    Python accessors (`records`, `entries`, `notes`, `tasks`, `stats`, `configure`, `reset`,
    `faults`) are safe to call from a test thread while uvicorn serves `app` in another.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = ("sandbox-attio-key",),
        write_rate: float | None = 25.0,
        read_rate: float | None = 100.0,
        latency_ms: float = 0.0,
        schema: SchemaKind = "full",
        auto_create_company_from_email: bool = True,
        seed: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        self.api_keys = tuple(api_keys)
        if not self.api_keys:
            raise ValueError("the sandbox needs at least one API key")
        self._token_ids = {k: str(uuid.uuid5(_TOKEN_NAMESPACE, k)) for k in self.api_keys}
        self.schema = schema
        self.seed = seed
        self.workspace = Workspace(schema, seed)
        self.limiter = RateLimiter(write_rate, read_rate)
        self.faults = Faults(refusals=True)
        self._stats = Stats()
        self.arrivals = ArrivalLog()
        self.latency_ms = 0.0
        self.auto_create_company_from_email = auto_create_company_from_email
        self.configure(latency_ms=latency_ms)
        self.app = self._build_app()

    def _build_app(self) -> Gateway:
        api_routes = [
            *routes_schema.ROUTES,
            *routes_lists.ROUTES,
            *routes_records.ROUTES,
            *routes_activity.ROUTES,
            *routes_comments.ROUTES,
        ]
        inner = Starlette(
            routes=[*api_routes, *admin.ROUTES],
            exception_handlers={
                404: endpoint_not_found,
                405: endpoint_not_found,
                Exception: _internal_error,
            },
        )
        inner.state.sandbox = self
        return Gateway(
            inner,
            api_routes,
            tokens=lambda: self._token_ids,
            limiter=self.limiter,
            faults=self.faults,
            stats=self._stats,
            latency=lambda: self.latency_ms / 1000.0,
            arrivals=self.arrivals,
        )

    # --- configuration ----------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change write_rate, read_rate (None = unlimited), latency_ms, or
        auto_create_company_from_email while the server runs."""
        unknown = set(changes) - set(CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown sandbox settings {sorted(unknown)}; use {list(CONFIG_KEYS)}")
        for kind in ("write", "read"):
            if f"{kind}_rate" in changes:
                self.limiter.configure(kind, changes[f"{kind}_rate"])  # type: ignore[arg-type]
        if "latency_ms" in changes:
            latency = changes["latency_ms"]
            if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
                raise ValueError("latency_ms must be a non-negative number")
            self.latency_ms = float(latency)
        if "auto_create_company_from_email" in changes:
            flag = changes["auto_create_company_from_email"]
            if not isinstance(flag, bool):
                raise ValueError("auto_create_company_from_email must be true or false")
            self.auto_create_company_from_email = flag
        return self.config()

    def config(self) -> dict[str, Any]:
        return {
            "write_rate": self.limiter.rate("write"),
            "read_rate": self.limiter.rate("read"),
            "latency_ms": self.latency_ms,
            "auto_create_company_from_email": self.auto_create_company_from_email,
            "schema": self.schema,
        }

    def reset(self) -> None:
        """A fresh seeded workspace (same ids as at start), empty windows, stats and faults."""
        with self.lock:
            self.workspace = Workspace(self.schema, self.seed)
        self.limiter.reset()
        self.arrivals.reset()
        self._stats.reset()
        self.faults.clear()

    def token_id(self, api_key: str) -> str:
        """The api-token actor id that records written with `api_key` carry."""
        return self._token_ids[api_key]

    # --- accessors for tests ----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with self.lock:
            counts = self.workspace.record_counts()
            entries = {
                x.api_slug: len(self.workspace.items[x.id]) for x in self.workspace.lists.values()
            }
            notes, tasks = len(self.workspace.notes), len(self.workspace.tasks)
        return {
            **self._stats.snapshot(),
            "records": counts,
            "entries": entries,
            "notes": notes,
            "tasks": tasks,
        }

    def records(self, object_slug: str) -> list[dict[str, Any]]:
        """Every record of the object, in creation order, in Attio's read shape."""
        with self.lock:
            ws = self.workspace
            obj = ws.get_object(object_slug)
            return [ws.record_shape(obj, item) for item in ws.records_of(obj)]

    def entries(self, list_slug: str) -> list[dict[str, Any]]:
        with self.lock:
            ws = self.workspace
            lst = ws.get_list(list_slug)
            return [ws.entry_shape(lst, item) for item in ws.records_of(lst)]

    def notes(self) -> list[dict[str, Any]]:
        with self.lock:
            ws = self.workspace
            return [
                {
                    "id": {"workspace_id": ws.workspace_id, "note_id": n["id"]},
                    **{k: v for k, v in n.items() if k != "id"},
                }
                for n in ws.notes.values()
            ]

    def tasks(self) -> list[dict[str, Any]]:
        with self.lock:
            ws = self.workspace
            return [
                {
                    "id": {"workspace_id": ws.workspace_id, "task_id": t["id"]},
                    **{k: v for k, v in t.items() if k != "id"},
                }
                for t in ws.tasks.values()
            ]

    def webhook_events(self, since: int = 0) -> list[dict[str, Any]]:
        """The webhook events record writes have caused since position `since`, in order, in
        Attio's delivery shape (`{"event_type", "id", "actor"}`), to deliver to a receiver."""
        with self.lock:
            return [dict(e) for e in self.workspace.events[since:]]

    def edit_as_member(
        self, object_slug: str, record_id: str, values: dict[str, Any], member_id: str
    ) -> dict[str, Any]:
        """Change a record as a person in Attio's app would (actor `workspace-member`): the
        values are validated like an API write, and the events it causes are logged."""
        with self.lock:
            ws = self.workspace
            obj = ws.get_object(object_slug)
            item = ws.items[obj.id].get(record_id)
            if item is None:
                raise KeyError(f"no {object_slug} record {record_id}")
            writer = Writer(
                ws,
                "",
                auto_company=False,
                actor={"type": "workspace-member", "id": member_id},
            )
            writer.update(obj, item, writer.prepare(obj, values, ["data", "values"]), "put")
            return ws.record_shape(obj, item)

    def members(self) -> list[dict[str, Any]]:
        with self.lock:
            ws = self.workspace
            return [ws.member_shape(m) for m in ws.members.values()]
