"""`OutreachSandbox`: the Outreach API v2 resources a lead enrollment touches, in JSON:API.

Served under `/api/v2` (point `OUTREACH_BASE_URL` there): prospects (create, get, filter by
email; emails are unique, a duplicate is a 422), seeded sequences and mailboxes (read only), and
sequenceStates (create with prospect, sequence and mailbox relationships; one per prospect and
sequence, a second is a 422; filter by prospect and sequence). Bodies are
`application/vnd.api+json`; errors are JSON:API `{"errors": [{"id", "title", "detail", ...}]}`.
Each token has a request budget per window that resets on the dot (10,000 an hour by default);
every answer carries `X-RateLimit-*` headers, and past the budget the answer is 429 with
`Retry-After: <seconds>`. Admin routes under `/_sandbox/` are the Attio sandbox's.
"""

from __future__ import annotations

import base64
import json
import math
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

OUTREACH_SANDBOX_TOKEN = "sandbox-outreach-token"
JSON_API = "application/vnd.api+json"
SEQUENCES = ("Inbound - Enterprise", "Inbound - Mid-Market", "Inbound - SMB", "Partner referrals")
DISABLED_SEQUENCES = ("Legacy nurture",)  # enrolling in a disabled sequence is refused
MAILBOXES = ("sdr-team@revops.example", "alice@revops.example", "bob@revops.example")
PROSPECT_ATTRIBUTES = frozenset({"emails", "firstName", "lastName", "company", "title", "tags"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
RELATIONSHIPS = ("prospect", "sequence", "mailbox")
TYPES = {"prospects": "prospect", "sequences": "sequence", "mailboxes": "mailbox"} | {
    "sequenceStates": "sequenceState"
}  # collection -> JSON:API type
KINDS = tuple(TYPES)
# hourly_limit: requests per window and token; window_seconds; latency_ms: added to each call.
CONFIG_KEYS = ("hourly_limit", "window_seconds", "latency_ms")


class ApiError(Exception):
    """A JSON:API error answer. UNCONFIRMED: Outreach's exact ids, titles and details."""

    def __init__(self, status: int, id_: str, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        error: dict[str, Any] = {
            "id": id_,
            "title": re.sub(r"(?<!^)([A-Z])", r" \1", id_).title(),
            "detail": detail,
        }
        if pointer:
            error["source"] = {"pointer": pointer}
        self.status, self.body = status, {"errors": [error]}


def _invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(422, "validationError", detail, pointer)


def _not_found(kind: str, id_: Any, pointer: str | None = None) -> ApiError:
    return ApiError(404, "resourceNotFound", f"Could not find '{kind}' with ID '{id_}'.", pointer)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class OutreachSandbox(SandboxFront):
    """An Outreach org: one token budget, seeded sequences and mailboxes, faults."""

    CONFIG_KEYS = CONFIG_KEYS
    INT_KEYS = frozenset({"hourly_limit"})

    def __init__(
        self,
        tokens: Iterable[str] = (OUTREACH_SANDBOX_TOKEN,),
        hourly_limit: int = 10_000,
        window_seconds: float = 3600.0,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__()
        self.tokens = frozenset(tokens)
        self.hourly_limit, self.window_seconds, self.latency_ms = 10_000, 3600.0, 0.0
        self.configure(
            hourly_limit=hourly_limit, window_seconds=window_seconds, latency_ms=latency_ms
        )
        self.reset()
        routes = [Route(f"/api/v2/{k}", self._collection, methods=["GET", "POST"]) for k in KINDS]
        routes += [Route(f"/api/v2/{k}/{{id:int}}", self._member) for k in KINDS]
        self._api = Starlette(routes=routes, exception_handlers={Exception: _internal})

    # --- state and accessors ---------------------------------------------------------------
    def _reset_state(self) -> None:
        """Seeded sequences and mailboxes, no prospects or states, fresh budgets."""
        self.store: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in KINDS}
        for i, name in enumerate((*SEQUENCES, *DISABLED_SEQUENCES), start=1):
            shape = {"sequenceType": "interval", "shareType": "shared"}
            self._add("sequences", {"name": name, "enabled": name in SEQUENCES, **shape}, id_=i)
        for i, email in enumerate(MAILBOXES, start=1):
            self._add("mailboxes", {"email": email, "userId": i}, id_=i)
        self._used: dict[str, tuple[int, int]] = {}  # token -> (window number, requests)

    def _add(self, kind: str, attrs: dict[str, Any], rels: Any = None, id_: int = 0) -> Any:
        new_id = id_ or max(self.store[kind], default=0) + 1
        attrs |= {"createdAt": _now(), "updatedAt": _now()}
        self.store[kind][new_id] = {"id": new_id, "attributes": attrs, "relationships": rels or {}}
        return self.store[kind][new_id]

    def _shape(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        rels = {
            name: {"data": {"type": name, "id": rid}} for name, rid in item["relationships"].items()
        }
        return {
            "type": TYPES[kind],
            "id": item["id"],
            "attributes": dict(item["attributes"]),
            "relationships": rels,
            "links": {"self": f"/api/v2/{kind}/{item['id']}"},
        }

    def resources(self, kind: str) -> list[dict[str, Any]]:
        """Every `kind` (prospects, sequences, mailboxes, sequenceStates) in JSON:API shape."""
        with self.lock:
            return [self._shape(kind, item) for item in self.store[kind].values()]

    def prospects(self) -> list[dict[str, Any]]:
        return self.resources("prospects")

    def sequence_states(self) -> list[dict[str, Any]]:
        return self.resources("sequenceStates")

    def stats(self) -> dict[str, Any]:
        with self.lock:
            counts = {kind: len(table) for kind, table in self.store.items()}
        return {**self._stats.snapshot(), "resources": counts}

    # --- before the front's faults: auth and budget ----------------------------------------
    def _route(self, path: str) -> str:
        return re.sub(r"/\d+$", "/{id}", path)

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = authorization(scope)
        token = header.removeprefix("Bearer ").strip()
        if not header.startswith("Bearer ") or token not in self.tokens:
            await _send(send, ApiError(401, "unauthorizedOauthToken", "Invalid OAuth token."))
            return
        limit_headers, retry_after = self._spend(token)
        if retry_after is not None:
            self._stats.bump("rate_limited")
            error = ApiError(429, "rateLimitExceeded", "You have exceeded your rate limit.")
            await _send(send, error, limit_headers | {"Retry-After": str(retry_after)})
            return
        await self._inject_faults(scope, receive, send, limit_headers)

    async def _send_fault(self, send: Send, status: int, headers: dict[str, str]) -> None:
        error = ApiError(status, "serverError", "The server encountered an error.")
        await _send(send, error, headers)

    def _spend(self, token: str) -> tuple[dict[str, str], int | None]:
        """Count one request against the token's window; the headers, and a wait when over."""
        now = time.time()
        window = int(now // self.window_seconds) if self.window_seconds else 0
        reset_at = (window + 1) * self.window_seconds
        with self.lock:
            seen, used = self._used.get(token, (window, 0))
            used = used + 1 if seen == window else 1
            over = used > self.hourly_limit
            self._used[token] = (window, min(used, self.hourly_limit))
        # UNCONFIRMED: the header names; Outreach documents the budget, not the headers.
        headers = {"X-RateLimit-Limit": str(self.hourly_limit)}
        headers["X-RateLimit-Remaining"] = str(max(0, self.hourly_limit - used))
        headers["X-RateLimit-Reset"] = str(math.ceil(reset_at))
        return headers, (max(1, math.ceil(reset_at - now)) if over else None)

    # --- routes ----------------------------------------------------------------------------
    async def _collection(self, request: Request) -> Response:
        kind = request.url.path.rsplit("/", 1)[1]
        try:
            if request.method == "GET":
                with self.lock:
                    return _response(200, self._list(kind, request))
            if kind not in ("prospects", "sequenceStates"):
                raise ApiError(405, "methodNotAllowed", f"{kind} cannot be created here.")
            body = await _body(request)
            with self.lock:
                created = self._shape(kind, self._create(kind, body))
            self._stats.bump("writes_applied")
            return _response(201, {"data": created})
        except ApiError as exc:
            return _response(exc.status, exc.body)

    async def _member(self, request: Request) -> Response:
        kind = request.url.path.split("/")[3]
        with self.lock:
            item = self.store[kind].get(request.path_params["id"])
            if item is None:
                return _response(404, _not_found(TYPES[kind], request.path_params["id"]).body)
            return _response(200, {"data": self._shape(kind, item)})

    def _list(self, kind: str, request: Request) -> dict[str, Any]:
        params = request.query_params
        items = list(self.store[kind].values())
        for key, value in params.items():
            match = re.fullmatch(r"filter\[(\w+)\](?:\[id\])?", key)
            if key.startswith("page[") or key in ("sort", "fields", "include"):
                continue
            if not match:
                raise ApiError(400, "badRequest", f"Unknown parameter '{key}'.")
            name = match.group(1)
            if key.endswith("[id]"):
                items = [i for i in items if str(i["relationships"].get(name)) == value]
                continue
            wanted = {v.strip().lower() for v in value.split(",")}
            items = [i for i in items if wanted & _lowered(i["attributes"].get(name))]
        try:
            size = max(1, min(int(params.get("page[size]", 50)), 1000))
            after = int(base64.b64decode(params.get("page[after]", "MA==")).decode())
        except ValueError:
            raise ApiError(400, "badRequest", "Invalid page parameters.") from None
        rest = [i for i in items if i["id"] > after]
        page = rest[:size]
        links = {"first": str(request.url.remove_query_params("page[after]"))}
        if len(rest) > size:
            cursor = base64.b64encode(str(page[-1]["id"]).encode()).decode()
            links["next"] = str(request.url.include_query_params(**{"page[after]": cursor}))
        data = [self._shape(kind, i) for i in page]
        return {"data": data, "links": links, "meta": {"count": len(items)}}

    def _create(self, kind: str, body: Any) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ApiError(400, "badRequest", "Send a JSON:API document with data.", "/data")
        if data.get("type") != TYPES[kind]:
            raise ApiError(409, "typeMismatch", f"The type must be '{TYPES[kind]}'.", "/data/type")
        attributes = data.get("attributes") or {}
        if kind == "prospects":
            return self._create_prospect(attributes)
        rels: dict[str, int] = {}
        for name in RELATIONSHIPS:
            ref = ((data.get("relationships") or {}).get(name) or {}).get("data") or {}
            pointer = f"/data/relationships/{name}"
            if ref.get("type") != name or not str(ref.get("id", "")).isdigit():
                raise _invalid(f"{name.title()} can't be blank.", pointer)
            if int(ref["id"]) not in self.store[next(k for k, t in TYPES.items() if t == name)]:
                raise _not_found(name, ref["id"], pointer)
            rels[name] = int(ref["id"])
        if not self.store["sequences"][rels["sequence"]]["attributes"]["enabled"]:
            raise _invalid("Sequence is disabled.", "/data/relationships/sequence")
        for state in self.store["sequenceStates"].values():
            r = state["relationships"]
            if (r["prospect"], r["sequence"]) == (rels["prospect"], rels["sequence"]):
                # UNCONFIRMED: Outreach's exact answer to a second enrollment.
                raise _invalid("Prospect is already in this sequence.", "/data/relationships")
        return self._add("sequenceStates", {"state": "active", "activeAt": _now()}, rels)

    def _create_prospect(self, attributes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(attributes) - PROSPECT_ATTRIBUTES
        if unknown:
            raise _invalid(f"Unknown attribute '{sorted(unknown)[0]}'.", "/data/attributes")
        emails, pointer = attributes.get("emails") or [], "/data/attributes/emails"
        if not isinstance(emails, list) or not all(_EMAIL.match(str(e)) for e in emails):
            raise _invalid("Emails is invalid.", pointer)
        taken = set().union(
            *(_lowered(p["attributes"]["emails"]) for p in self.store["prospects"].values())
        )
        if taken & _lowered(emails):
            raise _invalid("Emails has already been taken.", pointer)
        return self._add("prospects", {**attributes, "emails": list(emails)})


def _internal(request: Request, exc: Exception) -> Response:
    return _response(500, ApiError(500, "serverError", "The server encountered an error.").body)


def _lowered(value: Any) -> set[str]:
    return {str(v).lower() for v in (value if isinstance(value, list) else [value])}


async def _body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith((JSON_API, "application/json")):
        raise ApiError(415, "unsupportedMediaType", f"Send {JSON_API}.")
    try:
        return json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "badRequest", "The body is not valid JSON.") from None


def _response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_API)


async def _send(send: Send, error: ApiError, headers: dict[str, str] | None = None) -> None:
    raw, status = json.dumps(error.body).encode(), error.status
    head = [(b"content-type", JSON_API.encode()), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})
