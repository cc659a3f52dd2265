"""Outreach as a Dagster resource: enroll a prospect in a sequence, exactly once.

Speaks the Outreach API v2 (JSON:API, `application/vnd.api+json`) over httpx. `enroll_once`
finds or creates the prospect (by email), then finds or creates the sequenceState (prospect +
sequence + mailbox): looking first makes a repeated call a no-op, and after an ambiguous
failure (a timeout, a dropped connection, a 5xx on a create) it looks again before creating,
under the shared send-once rule (`infra/send_once.py`). A 422 on a create (email taken, already
in the sequence) is answered by looking too. Requests go through the shared retry policy
(`infra/retry.py`): 429s wait their `Retry-After`, reads are retried on 5xx and transport
errors, creates are not (`OutreachError.retryable` says which). JSON:API `errors` surface in
`OutreachError`.
"""

from __future__ import annotations

import logging
from typing import Any

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import is_transient_status
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.retry import RetrySettings, call, retry_after_seconds
from revops_pipelines.infra.send_once import send_once_sync
from revops_pipelines.resources.http_api import HttpApiResource

log = logging.getLogger("revops.outreach")
DEFAULT_BASE_URL = "https://api.outreach.io/api/v2"
JSON_API = "application/vnd.api+json"  # UNCONFIRMED for Outreach; JSON:API's own media type
ENV_VARS = {
    "access_token": "OUTREACH_ACCESS_TOKEN",
    "base_url": "OUTREACH_BASE_URL",
    "mailbox_id": "OUTREACH_MAILBOX_ID",
}
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT = {408, 500, 502, 503, 504}


class OutreachError(ApiError):
    """A failed Outreach call: the JSON:API `errors` when Outreach answered, else a transport
    failure (`status_code` None). `retryable`: safe to send again; `ambiguous`: a create may
    have been applied although no answer arrived."""

    def __init__(
        self,
        method: str,
        path: str,
        status_code: int | None,
        errors: list[dict[str, Any]],
        *,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.method, self.path, self.status_code, self.errors = method, path, status_code, errors
        self.retryable, self.ambiguous = retryable, ambiguous
        self.retry_after_seconds = retry_after_seconds
        # Outreach looks unwell (no answer, 408/5xx): counts toward opening its breaker.
        no_answer = status_code is None and bool(errors) and errors[0].get("id") == "transportError"
        self.outage = no_answer or is_transient_status(status_code)
        super().__init__(str(self))

    @property
    def detail(self) -> str:
        first = self.errors[0] if self.errors else {}
        return str(first.get("detail") or first.get("title") or first.get("id") or "error")

    def describe(self) -> str:
        status = self.status_code if self.status_code is not None else "no answer"
        return f"Outreach {self.method} {self.path} -> {status}: {self.detail}"


class OutreachResource(HttpApiResource, dg.ConfigurableResource):
    """Outreach API v2 with an OAuth access token. Build it with `from_env()`."""

    access_token: str | None = Field(default=None, repr=False, description="OUTREACH_ACCESS_TOKEN")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="OUTREACH_BASE_URL.")
    mailbox_id: str | None = Field(default=None, description="OUTREACH_MAILBOX_ID: sends for us.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request.")
    max_total_wait_seconds: float = Field(default=60.0, ge=0, description="Retry wait cap.")
    max_resends: int = Field(default=2, ge=0, description="Creates after an ambiguous failure.")

    _http: httpx.Client | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, **overrides: Any) -> OutreachResource:
        """OUTREACH_ACCESS_TOKEN and OUTREACH_MAILBOX_ID through `dg.EnvVar` when set (else the
        resource is unconfigured and says so); OUTREACH_BASE_URL read now."""
        return cls(**{**cls.env_values(ENV_VARS), **overrides})

    def configuration_problem(self) -> str | None:
        missing = [v for f, v in ENV_VARS.items() if f != "base_url" and not getattr(self, f)]
        if missing:
            return f"Outreach is not configured: set {' and '.join(missing)}"
        if not str(self.mailbox_id).strip().isdigit():
            return "OUTREACH_MAILBOX_ID must be a mailbox's numeric id"
        if not self.base_url.startswith(("http://", "https://")):
            return "OUTREACH_BASE_URL must be an http(s):// URL"
        return None

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Outreach", self.base_url, (self.access_token or "").strip()

    def rate_limits(self) -> dict[str, float | None]:
        # "a fixed limit of 10,000 requests per hour per user": its average, reads and writes
        # alike, never more than 10,000 in any hour however the hour is cut.
        return {"request": 10_000 / 3600}

    # --- requests --------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            problem = self.configuration_problem()
            if problem:
                raise OutreachError("-", "-", None, [{"id": "notConfigured", "detail": problem}])
        headers = {
            "Authorization": f"Bearer {(self.access_token or '').strip()}",
            "Accept": JSON_API,
            "Content-Type": JSON_API,
        }
        return self._open_http(self.base_url, headers, self.timeout_seconds)

    def retry_settings(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts, max_total_wait_seconds=self.max_total_wait_seconds
        )

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One call under the shared retry policy: 429 always (not processed), 5xx and
        transport errors only for reads. A create that may have been applied raises with
        `ambiguous` set. The breaker counts the whole call, retries included."""
        return call(
            lambda: self._send(method, path, **kwargs),
            self.retry_settings(),
            breaker=self.circuit_breaker(),
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        read = method == "GET"
        client = self._client()
        budget = self.rate_budget()
        try:
            with budget.slot_sync("request"):
                response = client.request(method, path.lstrip("/"), **kwargs)
        except _NOT_SENT as exc:
            raise self._transport(method, path, exc, retryable=True, ambiguous=False) from None
        except httpx.HTTPError as exc:
            raise self._transport(method, path, exc, retryable=read, ambiguous=not read) from None
        if response.is_success:
            return response.json() if response.content else {}
        try:
            errors = list(response.json().get("errors") or [])
        except (ValueError, AttributeError):
            errors = []
        errors = errors or [{"id": "httpError", "detail": response.reason_phrase}]
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            budget.pause("request", wait or 1.0)  # the user's hourly limit: everyone waits
            raise OutreachError(
                method, path, status, errors, retryable=True, retry_after_seconds=wait
            )
        unsure = status in _TRANSIENT
        if status == 401:
            errors[0] = {
                **errors[0],
                "detail": f"{errors[0].get('detail', '')} (check OUTREACH_ACCESS_TOKEN)",
            }
        raise OutreachError(
            method, path, status, errors, retryable=unsure and read, ambiguous=unsure and not read
        )

    @staticmethod
    def _transport(
        method: str, path: str, exc: Exception, *, retryable: bool, ambiguous: bool
    ) -> OutreachError:
        error = {"id": "transportError", "detail": f"{type(exc).__name__}: {exc}"}
        return OutreachError(method, path, None, [error], retryable=retryable, ambiguous=ambiguous)

    def _first_id(self, path: str, params: dict[str, Any]) -> int | None:
        data = self.request("GET", path, params={**params, "page[size]": 1}).get("data") or []
        return int(data[0]["id"]) if data else None

    def _create_once(self, what: str, path: str, body: dict[str, Any], look: Any) -> int:
        """POST `body` under the shared send-once rule; a 422 (email taken, already in the
        sequence) is Outreach's "already exists": answered by `look()` too, never resent."""
        return int(
            send_once_sync(
                lambda: self.request("POST", path, json=body)["data"]["id"],
                look,
                what=f"Outreach {what}",
                max_resends=self.max_resends,
                already_exists=_already_exists,
            )
        )

    # --- the operations --------------------------------------------------------------------
    def find_prospect(self, email: str) -> int | None:
        return self._first_id("prospects", {"filter[emails]": email.strip().lower()})

    def ensure_prospect(
        self, email: str, first_name: str | None, last_name: str | None, company: str | None
    ) -> int:
        """The prospect with `email`, created (once) when there is none."""
        found = self.find_prospect(email)
        if found is not None:
            return found
        attributes = {"emails": [email.strip().lower()], "firstName": first_name}
        attributes |= {"lastName": last_name, "company": company}
        body = {
            "data": {"type": "prospect", "attributes": {k: v for k, v in attributes.items() if v}}
        }
        return self._create_once("prospect", "prospects", body, lambda: self.find_prospect(email))

    def find_sequence_state(self, prospect_id: int, sequence_id: int) -> int | None:
        filters = {"filter[prospect][id]": prospect_id, "filter[sequence][id]": sequence_id}
        return self._first_id("sequenceStates", filters)

    def enroll_once(
        self,
        email: str,
        first_name: str | None,
        last_name: str | None,
        company: str | None,
        sequence_id: int | str,
        mailbox_id: int | str | None = None,
    ) -> int:
        """Enroll the prospect with `email` in the sequence; the sequenceState's id. Calling it
        again, or after a lost answer, returns the same state instead of a second one."""
        prospect_id = self.ensure_prospect(email, first_name, last_name, company)
        sequence, mailbox = int(sequence_id), int(mailbox_id or self.mailbox_id or 0)
        found = self.find_sequence_state(prospect_id, sequence)
        if found is not None:
            return found
        relationships = {
            name: {"data": {"type": name, "id": ref}}
            for name, ref in (
                ("prospect", prospect_id),
                ("sequence", sequence),
                ("mailbox", mailbox),
            )
        }
        body = {"data": {"type": "sequenceState", "relationships": relationships}}
        return self._create_once(
            "sequenceState",
            "sequenceStates",
            body,
            lambda: self.find_sequence_state(prospect_id, sequence),
        )

    def list_all(self, kind: str) -> list[dict[str, Any]]:
        """Every `kind` (e.g. "sequences", "mailboxes"), following `links.next`."""
        items: list[dict[str, Any]] = []
        url: str | None = kind
        params: dict[str, Any] | None = {"page[size]": 100}
        while url:
            page = self.request("GET", url, params=params)
            items += page.get("data") or []
            url, params = (page.get("links") or {}).get("next"), None
        return items


def _already_exists(exc: BaseException) -> bool:
    return isinstance(exc, OutreachError) and exc.status_code == 422
