"""`SalesloftSandbox`: the Salesloft API v2 calls that put a lead on a cadence (integrations.md §3).

Served under `/v2` (point `SALESLOFT_BASE_URL` there; paths with or without `.json`):
- `GET /v2/people?email_addresses[]=…` and `POST /v2/people` (`email_address` unique on the team,
  a duplicate is a 422); `do_not_contact` people cannot be added to a cadence;
- `GET /v2/cadences` (seeded);
- `GET /v2/cadence_memberships?person_id=&cadence_id=&currently_on_cadence=` and
  `POST /v2/cadence_memberships?person_id=&cadence_id=` (query parameters, as documented): one
  membership record per person and cadence; adding a person already on it is a 422.
Envelopes are `{"data": …, "metadata": {"paging": …}}`. The exact error bodies are UNCONFIRMED;
these follow the `{"errors": {field: [messages]}}` / `{"error": …}` shapes third parties report.
Limits (§3.6): a cost budget of 600 a minute per team (each call costs 1), reported in
`x-ratelimit-endpoint-cost` and `x-ratelimit-remaining-minute`; over it, 429 with no
`Retry-After` (none is documented). Faults and admin routes come from `SandboxFront`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from revops_sandbox.front import SandboxFront, authorization

SALESLOFT_SANDBOX_TOKEN = "sandbox-salesloft-api-key"
CADENCES = ("Inbound - Enterprise", "Inbound - Mid-Market", "Inbound - SMB")
PERSON_FIELDS = frozenset(
    {"email_address", "first_name", "last_name", "title", "person_company_name", "phone"}
    | {"do_not_contact", "tags", "owner_id", "custom_fields"}
)
# cost_per_minute: the team's budget (600 documented); latency_ms: added to each call.
CONFIG_KEYS = ("cost_per_minute", "latency_ms")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status, self.body = status, body


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, media_type="application/json")


class SalesloftSandbox(SandboxFront):
    """A Salesloft team: seeded cadences, people, cadence memberships, a per-minute budget."""

    CONFIG_KEYS = CONFIG_KEYS
    INT_KEYS = frozenset({"cost_per_minute"})
    POSITIVE_KEYS = frozenset({"cost_per_minute"})

    def __init__(
        self, tokens: Iterable[str] = (SALESLOFT_SANDBOX_TOKEN,), cost_per_minute: int = 600
    ) -> None:
        super().__init__()
        self.tokens = frozenset(tokens)
        self.cost_per_minute, self.latency_ms = 600, 0.0
        self.configure(cost_per_minute=cost_per_minute)
        self.reset()
        routes = []
        for name, handler in (
            ("people", self._people),
            ("cadences", self._cadences),
            ("cadence_memberships", self._memberships),
        ):
            routes += [
                Route(f"/v2/{name}{suffix}", handler, methods=["GET", "POST"])
                for suffix in ("", ".json")
            ]
        self._api = Starlette(routes=routes)

    def _reset_state(self) -> None:
        self.people: dict[int, dict[str, Any]] = {}
        self.cadences = {i: {"id": i, "name": n} for i, n in enumerate(CADENCES, start=1)}
        self.memberships: dict[int, dict[str, Any]] = {}
        self._minute: tuple[int, int] = (0, 0)  # (minute number, cost spent)

    # --- accessors ----------------------------------------------------------------------------
    def on_cadence(self) -> list[tuple[str, int]]:
        """(person email, cadence id) of every membership currently on its cadence."""
        with self.lock:
            return [
                (self.people[m["person_id"]]["email_address"], m["cadence_id"])
                for m in self.memberships.values()
                if m["currently_on_cadence"]
            ]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            counts = {"people": len(self.people), "cadence_memberships": len(self.memberships)}
        return {**self._stats.snapshot(), "resources": counts}

    def add_person(self, email: str, **fields: Any) -> int:
        with self.lock:
            return self._create_person({"email_address": email, **fields})["id"]

    # --- before the faults: auth and the cost budget -------------------------------------------
    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = authorization(scope).removeprefix("Bearer ").strip()
        if token not in self.tokens:
            response = _json(401, {"error": "Not authorized"})
            await response(scope, receive, send)
            return
        minute = int(time.time() // 60)
        with self.lock:
            seen, spent = self._minute
            spent = spent + 1 if seen == minute else 1
            self._minute = (minute, spent)
        remaining = max(0, self.cost_per_minute - spent)
        headers = {"x-ratelimit-endpoint-cost": "1", "x-ratelimit-remaining-minute": str(remaining)}
        if spent > self.cost_per_minute:
            self._stats.bump("rate_limited")
            body = {"error": "Rate limit exceeded", "status": 429}
            await _json(429, body, headers)(scope, receive, send)
            return
        await self._inject_faults(scope, receive, send, headers)

    async def _send_fault(self, send: Send, status: int, headers: dict[str, str]) -> None:
        raw = json.dumps({"error": "Internal Server Error", "status": status}).encode()
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        head += [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw})

    # --- routes ---------------------------------------------------------------------------------
    async def _people(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                wanted = {
                    e.strip().lower() for e in request.query_params.getlist("email_addresses[]")
                }
                with self.lock:
                    found = [
                        p
                        for p in self.people.values()
                        if not wanted or p["email_address"].lower() in wanted
                    ]
                return _json(200, _page(found, request))
            body = await _body(request)
            with self.lock:
                person = self._create_person(body)
            self._stats.bump("writes_applied")
            return _json(200, {"data": person})
        except ApiError as exc:
            return _json(exc.status, exc.body)

    def _create_person(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - PERSON_FIELDS
        if unknown:
            raise ApiError(422, {"errors": {sorted(unknown)[0]: ["is not a valid attribute"]}})
        email = str(body.get("email_address") or "").strip()
        if not _EMAIL.match(email):
            raise ApiError(422, {"errors": {"email_address": ["is invalid"]}})
        if any(p["email_address"].lower() == email.lower() for p in self.people.values()):
            # UNCONFIRMED: Salesloft's exact answer to a duplicate email (§3.3).
            raise ApiError(422, {"errors": {"email_address": ["has already been taken"]}})
        new_id = max(self.people, default=1000) + 1
        person = {**body, "id": new_id, "email_address": email, "created_at": _now()}
        person.setdefault("do_not_contact", False)
        self.people[new_id] = person
        return person

    async def _cadences(self, request: Request) -> Response:
        if request.method != "GET":
            return _json(405, {"error": "Method Not Allowed"})
        with self.lock:
            return _json(200, _page(list(self.cadences.values()), request))

    async def _memberships(self, request: Request) -> Response:
        params = request.query_params
        try:
            if request.method == "GET":
                with self.lock:
                    items = list(self.memberships.values())
                for key in ("person_id", "cadence_id"):
                    if key in params:
                        items = [m for m in items if str(m[key]) == params[key]]
                if "currently_on_cadence" in params:
                    on = params["currently_on_cadence"].lower() == "true"
                    items = [m for m in items if m["currently_on_cadence"] is on]
                return _json(200, _page([_membership(m) for m in items], request))
            with self.lock:
                membership = self._add_membership(params.get("person_id"), params.get("cadence_id"))
            self._stats.bump("writes_applied")
            return _json(200, {"data": _membership(membership)})
        except ApiError as exc:
            return _json(exc.status, exc.body)

    def _add_membership(self, person_id: str | None, cadence_id: str | None) -> dict[str, Any]:
        if not (person_id or "").isdigit() or not (cadence_id or "").isdigit():
            raise ApiError(422, {"errors": {"base": ["person_id and cadence_id are required"]}})
        person, cadence = self.people.get(int(person_id)), self.cadences.get(int(cadence_id))
        if person is None or cadence is None:
            raise ApiError(404, {"error": "Not Found"})
        if person["do_not_contact"]:
            raise ApiError(
                422, {"error": "The person could not be added to the requested cadence."}
            )
        key = next(
            (
                i
                for i, m in self.memberships.items()
                if (m["person_id"], m["cadence_id"]) == (person["id"], cadence["id"])
            ),
            None,
        )
        if key is not None and self.memberships[key]["currently_on_cadence"]:
            # UNCONFIRMED: status and message for a person already on the cadence (§3.5).
            raise ApiError(422, {"errors": {"base": ["Person is already on this cadence"]}})
        if key is None:  # one membership record per person and cadence, re-used on re-adding
            key = max(self.memberships, default=0) + 1
            self.memberships[key] = {
                "id": key,
                "person_id": person["id"],
                "cadence_id": cadence["id"],
                "created_at": _now(),
            }
        self.memberships[key] |= {
            "currently_on_cadence": True,
            "current_state": "active",
            "added_at": _now(),
        }
        return self.memberships[key]


def _membership(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m["id"],
        "added_at": m["added_at"],
        "created_at": m["created_at"],
        "currently_on_cadence": m["currently_on_cadence"],
        "current_state": m["current_state"],
        "person": {"id": m["person_id"], "_href": f"/v2/people/{m['person_id']}"},
        "cadence": {"id": m["cadence_id"], "_href": f"/v2/cadences/{m['cadence_id']}"},
    }


def _page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    try:
        per_page = max(1, min(int(request.query_params.get("per_page", 25)), 100))
        page = max(1, int(request.query_params.get("page", 1)))
    except ValueError:
        raise ApiError(400, {"error": "Invalid paging parameters"}) from None
    chunk = items[(page - 1) * per_page : page * per_page]
    paging = {"per_page": per_page, "current_page": page}
    return {"data": chunk, "metadata": {"paging": paging}}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, {"error": "Invalid JSON"}) from None
        if not isinstance(body, dict):
            raise ApiError(400, {"error": "Invalid JSON"})
        return body
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("utf-8", "replace")))
