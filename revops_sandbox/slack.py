"""`SlackSandbox`: a local stand-in for the Slack Web API methods the project calls.

Served under `/api/` (point `SLACK_API_BASE_URL` at `<url>/api/`): `chat.postMessage`,
`conversations.history`, `conversations.list`, `users.lookupByEmail` and `auth.test`, with
Slack's shapes: logical errors
are HTTP 200 `{"ok": false, "error": "..."}`; posting is limited per channel (a token bucket, one
message a second by default) with HTTP 429, `Retry-After: <seconds>` and `error: ratelimited`.
Admin routes under `/_sandbox/` (faults, config, reset, stats; the Attio sandbox's) are never
authenticated, limited or faulted. Accessors are safe to call while uvicorn serves `app`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from revops_sandbox.attio.gateway import send_json
from revops_sandbox.front import SandboxFront
from revops_sandbox.slack_blocks import invalid_blocks

SLACK_SANDBOX_TOKEN = "sandbox-slack-bot-token"
DEFAULT_CHANNELS = (
    "sales-leads",
    "high-value-leads",
    "sales-wins",
    "deals",
    "revops-alerts",
    "revops-staging-alerts",
    "revops-dev-alerts",
)
REP_CHANNELS = ("leads-alice", "leads-bob", "leads-carol", "leads-dan")
NOT_A_MEMBER = ("finance-private",)  # exists, but the bot was never invited: not_in_channel
ARCHIVED = ("old-leads",)  # archived: is_archived
# Workspace users that `users.lookupByEmail` finds (integrations.md §5.1): some of the Attio
# sandbox's members; the others have no Slack account here (`users_not_found`), and a
# deactivated one is returned with `deleted: true`.
USERS = (
    ("U0MORGANLEE", "morgan.lee@northwindsales.io", "Morgan Lee", False),
    ("U0AVATHOMP", "ava.thompson@northwindsales.io", "Ava Thompson", False),
    ("U0LIAMCHEN", "liam.chen@northwindsales.io", "Liam Chen", False),
    ("U0SOFIAMAR", "sofia.martinez@northwindsales.io", "Sofia Martinez", False),
    ("U0JORDANBL", "jordan.blake@northwindsales.io", "Jordan Blake", True),
)
# users.lookupByEmail is Tier 3, "50+ per minute" (§5.2): the sandbox allows this many a minute.
LOOKUP_PER_MINUTE = 50
TEAM = {"team": "RevOps Sandbox", "team_id": "T0REVOPS01", "url": "https://revops.slack.com/"}
BOT = {"user": "revops-bot", "user_id": "U0REVOPSBOT", "bot_id": "B0REVOPSBOT"}
MAX_TEXT = 40_000  # chat.postMessage: text is "truncated at 40,000 characters"
# UNCONFIRMED: Slack does not publish the serialized-size limit behind msg_blocks_too_long.
MAX_BLOCKS_JSON = 50_000
# UNCONFIRMED: Slack's 5xx bodies are not documented; these keep the ok/error shape.
FAULT_BODIES = {
    "500": {"ok": False, "error": "internal_error"},
    "503": {"ok": False, "error": "service_unavailable"},
}
# channel_rate: messages/s per channel; burst: the bucket's size; latency_ms: added to each call.
CONFIG_KEYS = ("channel_rate", "burst", "latency_ms", "lookups_per_minute")


class SlackError(Exception):
    """A logical Slack error, answered as HTTP 200 `{"ok": false, "error": code}`."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code, self.messages = code, messages or []


class RateLimited(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def channel_id(name: str) -> str:
    """The stable id the sandbox gives a channel name (Slack ids are C + upper alphanumerics)."""
    return "C" + base64.b32encode(hashlib.sha1(name.encode()).digest()).decode()[:10]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class SlackSandbox(SandboxFront):
    """A Slack workspace with seeded channels, bot tokens and per-channel post limits."""

    CONFIG_KEYS = CONFIG_KEYS
    INT_KEYS = frozenset({"burst", "lookups_per_minute"})
    POSITIVE_KEYS = frozenset({"channel_rate", "burst", "lookups_per_minute"})

    def __init__(
        self,
        tokens: Iterable[str] = (SLACK_SANDBOX_TOKEN,),
        channels: Iterable[str] = (*DEFAULT_CHANNELS, *REP_CHANNELS),
        channel_rate: float = 1.0,
        burst: int = 1,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__()
        self.tokens = frozenset(tokens)
        self._seed_channels = tuple(channels)
        self.channel_rate, self.burst, self.latency_ms = 1.0, 1, 0.0
        self.lookups_per_minute = LOOKUP_PER_MINUTE
        self.configure(channel_rate=channel_rate, burst=burst, latency_ms=latency_ms)
        self.reset()

    # --- state and accessors ---------------------------------------------------------------
    def _reset_state(self) -> None:
        """The seeded channels with no messages; empty buckets."""
        self.channels: dict[str, dict[str, Any]] = {}
        for name in (*self._seed_channels, *NOT_A_MEMBER, *ARCHIVED):
            self.add_channel(name, member=name not in NOT_A_MEMBER, archived=name in ARCHIVED)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_ts = 0.0
        self._lookups: list[float] = []  # times of this minute's users.lookupByEmail calls
        self.users = {
            email: {"id": uid, "name": name, "deleted": deleted}
            for uid, email, name, deleted in USERS
        }

    def add_channel(self, name: str, *, member: bool = True, archived: bool = False) -> str:
        cid = channel_id(name)
        with self.lock:
            entry = {"id": cid, "name": name, "member": member, "archived": archived}
            self.channels[cid] = entry | {"messages": []}
        return cid

    def channel_id(self, channel: str) -> str:
        """Resolve an id, a name or a #name to the channel id (KeyError when unknown)."""
        with self.lock:
            cid = channel if channel in self.channels else channel_id(channel.lstrip("#"))
            if cid not in self.channels:
                raise KeyError(channel)
            return cid

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message posted to the channel (id or name), oldest first, with metadata."""
        with self.lock:
            return [dict(m) for m in self.channels[self.channel_id(channel)]["messages"]]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            posted = {c["name"]: len(c["messages"]) for c in self.channels.values()}
        return {**self._stats.snapshot(), "messages": {k: n for k, n in posted.items() if n}}

    # --- the API under /api/ (the front's admin routes, latency and faults are around it) -----
    async def _send_fault(self, send: Send, status: int, headers: dict[str, str]) -> None:
        await send_json(send, status, FAULT_BODIES[str(status)])

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "chat.postMessage": self._post_message,
            "conversations.history": self._history,
            "conversations.list": self._list,
            "auth.test": lambda _params: {**TEAM, **BOT},
            "users.lookupByEmail": self._lookup_by_email,
        }
        method = scope["path"].removeprefix("/api/")
        if not scope["path"].startswith("/api/") or method not in handlers:
            # UNCONFIRMED: Slack answers an unknown method with 404 and this body.
            await send_json(send, 404, {"ok": False, "error": "unknown_method"})
            return
        try:
            params = await _params(request)
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            token = token or str(params.get("token") or "")
            if not token:
                raise SlackError("not_authed")
            if token not in self.tokens:
                raise SlackError("invalid_auth")
            with self.lock:
                result = handlers[method](params)
        except SlackError as exc:
            body: dict[str, Any] = {"ok": False, "error": exc.code}
            if exc.messages:
                body["response_metadata"] = {"messages": exc.messages}
            await send_json(send, 200, body)
        except RateLimited as limited:
            self._stats.bump("rate_limited")
            headers = {"Retry-After": str(limited.seconds)}
            await send_json(send, 429, {"ok": False, "error": "ratelimited"}, headers)
        else:
            await send_json(send, 200, {"ok": True, **result})

    # --- methods (called under the lock) ---------------------------------------------------
    def _channel(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            channel = self.channels[self.channel_id(str(params.get("channel") or ""))]
        except KeyError:
            raise SlackError("channel_not_found") from None
        if not channel["member"]:
            raise SlackError("not_in_channel")
        return channel

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel["archived"]:
            raise SlackError("is_archived")
        text = str(params.get("text") or "")
        blocks = _decoded(params.get("blocks"), "invalid_blocks_format")
        metadata = _decoded(params.get("metadata"), "invalid_metadata_format")
        if not text and not blocks:
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None and (errors := invalid_blocks(blocks)):
            raise SlackError("invalid_blocks", errors)
        if blocks is not None and len(json.dumps(blocks)) > MAX_BLOCKS_JSON:
            raise SlackError("msg_blocks_too_long")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_schema")
        self._take_token(channel["id"])
        self._last_ts = max(round(time.time(), 6), round(self._last_ts + 0.000001, 6))
        ts = f"{self._last_ts:.6f}"
        message: dict[str, Any] = {"type": "message", "text": text, "ts": ts}
        message |= {"user": BOT["user_id"], "bot_id": BOT["bot_id"], "team": TEAM["team_id"]}
        if blocks:
            message["blocks"] = blocks
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        channel["messages"].append({**message, "metadata": metadata} if metadata else message)
        self._stats.bump("writes_applied")
        return {"channel": channel["id"], "ts": ts, "message": message}

    def _take_token(self, cid: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(cid, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.channel_rate)
        if tokens < 1:
            self._buckets[cid] = (tokens, now)
            raise RateLimited(max(1, math.ceil((1 - tokens) / self.channel_rate)))
        self._buckets[cid] = (tokens - 1, now)

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, between `oldest` and `latest`; `cursor` continues below the last page."""
        channel = self._channel(params)
        try:
            oldest = float(params.get("oldest") or 0)
            latest = float(params.get("latest") or math.inf)
            limit = max(1, min(int(params.get("limit") or 100), 999))
            if params.get("cursor"):
                raw = base64.b64decode(str(params["cursor"])).decode()
                latest = float(raw.removeprefix("next_ts:"))
        except ValueError:
            raise SlackError("invalid_arguments") from None
        inclusive = _truthy(params.get("inclusive")) and not params.get("cursor")
        with_metadata = _truthy(params.get("include_all_metadata"))
        inside = (lambda t: oldest <= t <= latest) if inclusive else (lambda t: oldest < t < latest)
        picked = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in reversed(channel["messages"])
            if inside(float(m["ts"]))
        ]
        page, more = picked[:limit], len(picked) > limit
        cursor = base64.b64encode(f"next_ts:{page[-1]['ts']}".encode()).decode() if more else ""
        return {
            "messages": page,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        """`users.lookupByEmail` (Tier 3): the user, or `users_not_found`."""
        now = time.monotonic()
        self._lookups = [t for t in self._lookups if now - t < 60.0]
        if len(self._lookups) >= self.lookups_per_minute:
            raise RateLimited(max(1, math.ceil(60.0 - (now - self._lookups[0]))))
        self._lookups.append(now)
        email = str(params.get("email") or "").strip().lower()
        if not email:
            raise SlackError("invalid_arguments")
        user = self.users.get(email)
        if user is None:
            raise SlackError("users_not_found")
        return {
            "user": {
                "id": user["id"],
                "team_id": TEAM["team_id"],
                "name": email.split("@")[0],
                "deleted": user["deleted"],
                "real_name": user["name"],
                "tz": "Europe/London",
                "profile": {"email": email, "display_name": user["name"]},
            }
        }

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        skip_archived = _truthy(params.get("exclude_archived"))
        channels = [
            {
                "id": c["id"],
                "name": c["name"],
                "is_channel": True,
                "is_archived": c["archived"],
                "is_member": c["member"],
            }
            for c in self.channels.values()
            if not (skip_archived and c["archived"])
        ]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}


def _decoded(value: Any, error: str) -> Any:
    """A JSON argument: form bodies carry it as a string, JSON bodies as the value itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else None
    except ValueError:
        raise SlackError(error) from None


async def _params(request: Request) -> dict[str, Any]:
    """Arguments from the query string and a JSON, form or multipart body, as Slack reads them."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        return params | {k: v for k, v in form.items() if isinstance(v, str)}
    raw = await request.body()
    if not raw.strip():
        return params
    if not ctype.startswith("application/json"):
        return params | dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = json.loads(raw)
    except ValueError:
        raise SlackError("invalid_json") from None
    if not isinstance(body, dict):
        raise SlackError("json_not_object")
    return params | body
