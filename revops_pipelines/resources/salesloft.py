"""Salesloft as a Dagster resource: put a person on a cadence, exactly once (reference
integrations.md §3).

`add_to_cadence_once` finds the person by email (`GET /v2/people?email_addresses[]=`) or creates
it, then looks for a membership currently on the cadence (`GET /v2/cadence_memberships?person_id=
&cadence_id=&currently_on_cadence=true`) before adding one (`POST /v2/cadence_memberships` with
query parameters, as documented). After an ambiguous failure (a timeout, a 5xx on a write) it looks
again before adding, under the shared send-once rule (`infra/send_once.py`); a 422 on a write is
answered by looking too, so "already on the cadence" (or a duplicate email) counts as done, and a
422 with nothing found (a do-not-contact person) is raised with Salesloft's own message.
Requests go through the shared retry policy and draw from the credential's rate budget: 600 cost
a minute per team, each call costing 1 (§3.6), so 10 a second. Salesloft documents no
`Retry-After` on its 429, so the retry policy's own backoff applies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from revops_pipelines.infra.breaker import is_transient_status
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.retry import RetrySettings, call, retry_after_seconds
from revops_pipelines.infra.send_once import send_once_sync
from revops_pipelines.resources.http_api import HttpApiResource

DEFAULT_BASE_URL = "https://api.salesloft.com/v2"
ENV_VARS = {"api_key": "SALESLOFT_API_KEY", "base_url": "SALESLOFT_BASE_URL"}
COST_PER_MINUTE = 600  # the team's documented budget; every call we make costs 1
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class SalesloftError(ApiError):
    """A failed Salesloft call with Salesloft's message (`status_code` None: no answer)."""

    def __init__(
        self,
        method: str,
        path: str,
        status_code: int | None,
        message: str,
        *,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.method, self.path, self.status_code, self.message = method, path, status_code, message
        self.retryable, self.ambiguous = retryable, ambiguous
        self.retry_after_seconds = retry_after_seconds
        self.outage = (status_code is None and (retryable or ambiguous)) or (
            is_transient_status(status_code)
        )
        super().__init__(str(self))

    def describe(self) -> str:
        status = self.status_code if self.status_code is not None else "no answer"
        return f"Salesloft {self.method} {self.path} -> {status}: {self.message}"


def _message(response: httpx.Response) -> str:
    """Salesloft's error text: `{"error": ...}` or `{"errors": {field: [...]}}` (UNCONFIRMED)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, Mapping):
        if isinstance(body.get("errors"), Mapping):
            return "; ".join(
                f"{field} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for field, v in body["errors"].items()
            )
        if body.get("error"):
            return str(body["error"])
    return json.dumps(body)[:300]


class SalesloftResource(HttpApiResource, dg.ConfigurableResource):
    """Salesloft API v2 with an API key (or OAuth token). Build it with `from_env()`."""

    api_key: str | None = Field(default=None, repr=False, description="SALESLOFT_API_KEY.")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="SALESLOFT_BASE_URL.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request.")
    max_total_wait_seconds: float = Field(default=60.0, ge=0, description="Retry wait cap.")
    max_resends: int = Field(default=2, ge=0, description="Writes after an ambiguous failure.")

    _http: httpx.Client | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, **overrides: Any) -> SalesloftResource:
        """SALESLOFT_API_KEY through `dg.EnvVar` when set; SALESLOFT_BASE_URL read now."""
        return cls(**{**cls.env_values(ENV_VARS), **overrides})

    def configuration_problem(self) -> str | None:
        if not (self.api_key or "").strip():
            return "Salesloft is not configured: set SALESLOFT_API_KEY"
        if not self.base_url.startswith(("http://", "https://")):
            return "SALESLOFT_BASE_URL must be an http(s):// URL"
        return None

    def breaker_identity(self) -> tuple[str, str, str]:
        return "Salesloft", self.base_url, (self.api_key or "").strip()

    def rate_limits(self) -> Mapping[str, float | None]:
        return {"request": COST_PER_MINUTE / 60.0}

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One call under the shared retry policy (429 always; 5xx and transport errors only
        for reads); a write that may have been applied raises with `ambiguous` set."""
        return call(
            lambda: self._send(method, path, **kwargs),
            RetrySettings(
                max_attempts=self.max_attempts, max_total_wait_seconds=self.max_total_wait_seconds
            ),
            breaker=self.circuit_breaker(),
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        problem = self.configuration_problem()
        if problem:
            raise SalesloftError(method, path, None, problem)
        read = method == "GET"
        headers = {"Authorization": f"Bearer {(self.api_key or '').strip()}"}
        client = self._open_http(self.base_url, headers, self.timeout_seconds)
        self.rate_budget().acquire_sync("request")
        try:
            response = client.request(method, path, **kwargs)
        except _NOT_SENT as exc:
            raise SalesloftError(method, path, None, type(exc).__name__, retryable=True) from None
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
            raise SalesloftError(
                method, path, None, kind, retryable=read, ambiguous=not read
            ) from None
        if response.is_success:
            return response.json() if response.content else {}
        status, message = response.status_code, _message(response)
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))  # none documented
            raise SalesloftError(
                method, path, status, message, retryable=True, retry_after_seconds=wait
            )
        if status == 401:
            message += " (check SALESLOFT_API_KEY)"
        unsure = is_transient_status(status)
        raise SalesloftError(
            method, path, status, message, retryable=unsure and read, ambiguous=unsure and not read
        )

    # --- the operations ---------------------------------------------------------------------
    def find_person(self, email: str) -> int | None:
        params = {"email_addresses[]": email.strip().lower(), "per_page": 1}
        data = self.request("GET", "people", params=params).get("data") or []
        return int(data[0]["id"]) if data else None

    def ensure_person(
        self, email: str, first_name: str | None, last_name: str | None, company: str | None
    ) -> int:
        found = self.find_person(email)
        if found is not None:
            return found
        body = {"email_address": email.strip().lower(), "first_name": first_name}
        body |= {"last_name": last_name, "person_company_name": company}
        return self._write_once(
            "person",
            lambda: self.request("POST", "people", json={k: v for k, v in body.items() if v}),
            lambda: self.find_person(email),
        )

    def find_membership(self, person_id: int, cadence_id: int) -> int | None:
        params = {
            "person_id": person_id,
            "cadence_id": cadence_id,
            "currently_on_cadence": "true",
        }
        data = self.request("GET", "cadence_memberships", params=params).get("data") or []
        return int(data[0]["id"]) if data else None

    def add_to_cadence_once(
        self,
        email: str,
        first_name: str | None,
        last_name: str | None,
        company: str | None,
        cadence_id: int,
    ) -> int:
        """The cadence membership of the person with `email` (created once)."""
        person = self.ensure_person(email, first_name, last_name, company)
        found = self.find_membership(person, cadence_id)
        if found is not None:
            return found
        params = {"person_id": person, "cadence_id": cadence_id}
        return self._write_once(
            "cadence membership",
            lambda: self.request("POST", "cadence_memberships", params=params),
            lambda: self.find_membership(person, cadence_id),
        )

    def _write_once(self, what: str, write: Any, look: Any) -> int:
        """A write under send-once: a 422 is answered by looking (already there counts as done;
        nothing there: Salesloft's refusal is raised)."""

        def post() -> int:
            return int(write()["data"]["id"])

        return int(
            send_once_sync(
                post,
                look,
                what=f"Salesloft {what}",
                max_resends=self.max_resends,
                already_exists=lambda e: isinstance(e, SalesloftError) and e.status_code == 422,
            )
        )
