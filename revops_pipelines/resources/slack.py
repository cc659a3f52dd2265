"""Slack as a Dagster resource, over slack_sdk's `WebClient` pointed at `SLACK_API_BASE_URL`.

One retry loop: slack_sdk's own retry handlers are switched off, and every call goes through
the shared retry policy (`infra/retry.py`). A 429 waits its `Retry-After` seconds; a request
that never reached Slack, or a read, is sent again. A post whose answer was lost (a timeout, a
reset after it was sent, a 5xx, or Slack's own `internal_error`/`fatal_error`/`request_timeout`)
is ambiguous and is not resent blindly: `post_message_once` tags each message with a
deterministic marker in its message metadata and, under the shared send-once rule, looks for
the marker in `conversations.history` before posting again. Slack's `ok: false` errors surface
as `SlackError` with Slack's error code. The token never appears in logs or errors.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

import dagster as dg
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import BreakerGuard, is_transient_status
from revops_pipelines.infra.cache import cache_for
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.rate_budget import RateBudgeted
from revops_pipelines.infra.retry import RetrySettings, call, retry_after_seconds
from revops_pipelines.infra.send_once import send_once_sync

# slack_sdk is imported where a client is made: loading the definitions must not load it.
if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

log = logging.getLogger("revops.slack")
DEFAULT_BASE_URL = "https://slack.com/api/"
ENV_VARS = {"token": "SLACK_BOT_TOKEN", "base_url": "SLACK_API_BASE_URL"}
MARKER_EVENT_TYPE = "revops_effect"
WRITE_METHODS = ("chat.postMessage",)
# Slack: "it's possible some aspect of the operation succeeded before the error was raised".
AMBIGUOUS_ERRORS = {"internal_error", "fatal_error", "request_timeout", "service_unavailable"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


class SlackError(ApiError):
    """A failed Slack call: Slack's `error` code when it answered, else a transport failure.

    `retryable`: sending again is safe and may succeed; `ambiguous`: the post may have been
    applied although no good answer arrived (look before posting again).
    """

    def __init__(
        self,
        method: str,
        error: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after_seconds: float | None = None,
        messages: list[str] | None = None,
    ) -> None:
        self.method, self.error, self.status_code = method, error, status_code
        self.retryable, self.ambiguous = retryable, ambiguous
        self.retry_after_seconds = retry_after_seconds
        self.messages = messages or []
        # Slack looks unwell (no answer, 408/5xx, or its own internal errors): counts toward
        # opening its breaker; a 429 or a refusal (channel_not_found, ...) does not.
        unwell = is_transient_status(status_code) or error in AMBIGUOUS_ERRORS
        self.outage = (retryable or ambiguous) if status_code is None else unwell
        super().__init__(str(self))

    def describe(self) -> str:
        details = f" {self.messages}" if self.messages else ""
        if self.status_code is None:
            return f"Slack {self.method}: {self.error}{details}"
        return f"Slack {self.method} -> {self.status_code} {self.error}{details}"


class SlackResource(BreakerGuard, RateBudgeted, dg.ConfigurableResource):
    """Slack Web API with a bot token. Build it with `from_env()`."""

    token: str | None = Field(default=None, repr=False, description="SLACK_BOT_TOKEN.")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="SLACK_API_BASE_URL.")
    timeout_seconds: int = Field(default=30, ge=1)
    max_attempts: int = Field(default=4, ge=1, description="Attempts per call, first included.")
    max_total_wait_seconds: float = Field(default=60.0, ge=0, description="Retry wait cap.")
    max_resends: int = Field(default=2, ge=0, description="Posts after an ambiguous failure.")
    lookback_seconds: float = Field(
        default=900.0, gt=0, description="How far before a post its marker is looked for."
    )

    _client: WebClient | None = PrivateAttr(default=None)
    _channel_ids: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> SlackResource:
        """SLACK_BOT_TOKEN through `dg.EnvVar` when set (else the resource is unconfigured and
        says so); SLACK_API_BASE_URL read now (default https://slack.com/api/)."""
        values: dict[str, Any] = {}
        if os.environ.get(ENV_VARS["token"]):
            values["token"] = dg.EnvVar(ENV_VARS["token"])
        if os.environ.get(ENV_VARS["base_url"]):
            values["base_url"] = os.environ[ENV_VARS["base_url"]]
        return cls(**{**values, **overrides})

    def configuration_problem(self) -> str | None:
        if not (self.token or "").strip():
            return "Slack is not configured: set SLACK_BOT_TOKEN (and SLACK_API_BASE_URL)"
        if not self.base_url.startswith(("http://", "https://")):
            return "SLACK_API_BASE_URL must be an http(s):// URL"
        return None

    def is_configured(self) -> bool:
        return self.configuration_problem() is None

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Slack", self.base_url, (self.token or "").strip()

    def client(self) -> WebClient:
        """The WebClient, without slack_sdk's retry handlers: `call` is the one retry loop."""
        from slack_sdk import WebClient

        if self._client is None:
            problem = self.configuration_problem()
            if problem:
                raise SlackError("(setup)", "not_configured", messages=[problem])
            self._client = WebClient(
                token=(self.token or "").strip(),
                base_url=self.base_url.rstrip("/") + "/",  # slack_sdk joins method names on
                timeout=self.timeout_seconds,
                retry_handlers=[],  # its default resends a post whose answer was lost
            )
        return self._client

    def retry_settings(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts, max_total_wait_seconds=self.max_total_wait_seconds
        )

    # --- calls -----------------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One Web API call under the shared retry policy: what `SlackError.retryable` allows
        (a 429, a request that never left, a read's transient failure) is sent again. The
        breaker counts the whole call, not each attempt."""
        return call(
            lambda: self._call(method, params),
            self.retry_settings(),
            breaker=self.circuit_breaker(),
        )

    def rate_limits(self) -> dict[str, float | None]:
        # "one message per second per channel" (chat.postMessage); reads: no rate relied on.
        return {"write": 1.0}

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        write = method in WRITE_METHODS
        client = self.client()
        budget = self.rate_budget()
        channel = str(params.get("channel") or "") if write else None
        try:
            with budget.slot_sync("write" if write else "read", scope=channel):
                if write:
                    response = client.api_call(method, json=params)
                else:
                    response = client.api_call(method, http_verb="GET", params=params)
            return dict(response.data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            error = _api_error(method, exc, write)
            if error.status_code == 429 and error.retry_after_seconds:
                # Everyone posting to this channel (or reading) waits out the Retry-After.
                budget.pause("write" if write else "read", error.retry_after_seconds, scope=channel)
            raise error from None
        except URLError as exc:  # nothing reached Slack (connection refused, DNS, ...)
            raise SlackError(method, f"connection_error: {exc.reason}", retryable=True) from None
        except (OSError, http.client.HTTPException) as exc:  # sent, answer lost
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise SlackError(method, kind, retryable=not write, ambiguous=write) from None

    def channel_id(self, channel: str) -> str:
        """An id as is; a name or #name through `conversations.list` (needs channels:read)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        if name not in self._channel_ids:
            self._channel_ids.update(self._all_channels())
        if name not in self._channel_ids:
            raise SlackError("conversations.list", "channel_not_found", messages=[channel])
        return self._channel_ids[name]

    def _all_channels(self) -> dict[str, str]:
        found, cursor = {}, ""
        while True:
            page = self.call(
                "conversations.list",
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            found |= {c["name"]: c["id"] for c in page.get("channels", [])}
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return found

    def post_message(
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """`chat.postMessage` once, with no look: the answer (`channel`, `ts`, `message`)."""
        params = {"channel": channel, "text": text, **extra}
        if blocks is not None:
            params["blocks"] = blocks
        return self.call("chat.postMessage", **params)

    def history(self, channel: str, *, oldest: float) -> Iterator[dict[str, Any]]:
        """The channel's messages newer than `oldest` (epoch seconds), newest first."""
        cursor = ""
        while True:
            page = self.call(
                "conversations.history",
                channel=self.channel_id(channel),
                oldest=f"{oldest:.6f}",
                limit=200,
                include_all_metadata=True,
                cursor=cursor,
            )
            yield from page.get("messages", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor or not page.get("has_more"):
                return

    def find_message(self, channel: str, marker: str, *, oldest: float) -> str | None:
        """The `ts` of the message carrying `marker` posted after `oldest`, or None."""
        for message in self.history(channel, oldest=oldest):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("marker") == marker:
                return str(message["ts"])
        return None

    def post_message_once(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        marker: str,
        look_first: bool = False,
    ) -> str:
        """Post once under `marker` (a deterministic key, e.g. "<lead key>:notify"); the `ts`.

        After an ambiguous failure the channel's history is searched for the marker before
        posting again. `look_first` searches before the first post too (a retried step whose
        ledger says an earlier attempt may have posted).
        """
        cid = self.channel_id(channel)
        since = time.time() - self.lookback_seconds
        metadata = {"event_type": MARKER_EVENT_TYPE, "event_payload": {"marker": marker}}

        def post() -> str:
            return str(self.post_message(cid, text, blocks, metadata=metadata)["ts"])

        def look() -> str | None:
            return self.find_message(cid, marker, oldest=since)

        if look_first and (found := look()):
            return found
        return send_once_sync(post, look, what=f"Slack post {marker}", max_resends=self.max_resends)

    def user_id_by_email(self, email: str) -> str | None:
        """The Slack user id of `email` (`users.lookupByEmail`, Tier 3: cached an hour, found
        or not), or None when Slack has no such active user (`users_not_found`, the older
        `user_not_found`, or a deactivated account). Other errors raise."""
        cache = cache_for(
            "Slack", "user_by_email", self.base_url, (self.token or "").strip(), ttl=3600, size=2048
        )
        key = email.strip().lower()
        cached = cache.get(key)
        if cached is not None:
            return cached.get("id")
        try:
            user = self.call("users.lookupByEmail", email=key).get("user") or {}
        except SlackError as exc:
            if exc.error not in ("users_not_found", "user_not_found"):
                raise
            user = {}
        found = None if user.get("deleted") else user.get("id")
        cache.put(key, {"id": found})
        return str(found) if found else None


def _api_error(method: str, exc: SlackApiError, write: bool) -> SlackError:
    response = exc.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    messages = list((data.get("response_metadata") or {}).get("messages") or [])
    if status == 429:
        header = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
            "retry-after"
        )
        wait = retry_after_seconds(header[0] if isinstance(header, list) else header)
        wait = 1.0 if wait is None else wait  # Slack always sends it; wait a second if not
        return SlackError(
            method, code, status_code=status, retryable=True, retry_after_seconds=wait
        )
    unsure = status >= 500 or code in AMBIGUOUS_ERRORS
    return SlackError(
        method,
        code,
        status_code=status,
        retryable=unsure and not write,
        ambiguous=unsure and write,
        messages=messages,
    )
