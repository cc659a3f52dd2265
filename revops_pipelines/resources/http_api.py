"""What the JSON-over-HTTP resources (enrichment, Outreach, Salesloft) share: their settings from
the environment, one lazily opened `httpx.Client` per resource, closed at the end of each step,
their breaker and rate budget."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
import httpx

from revops_pipelines.infra.breaker import BreakerGuard
from revops_pipelines.infra.rate_budget import RateBudgeted


class HttpApiResource(BreakerGuard, RateBudgeted):
    """Mixed into a ConfigurableResource that declares `_http: httpx.Client | None` as a
    PrivateAttr and says what is missing in `configuration_problem()`."""

    @staticmethod
    def env_values(env_vars: Mapping[str, str]) -> dict[str, Any]:
        """The fields whose variables are set: `base_url` read now (a documented default
        otherwise), every other field (a credential) as a `dg.EnvVar` resolved when a run starts.
        A field whose variable is unset is left out, so the resource says what is missing."""
        return {
            field: os.environ[var] if field == "base_url" else dg.EnvVar(var)
            for field, var in env_vars.items()
            if os.environ.get(var)
        }

    def configuration_problem(self) -> str | None:
        raise NotImplementedError

    def is_configured(self) -> bool:
        return self.configuration_problem() is None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:  # type: ignore[attr-defined]
            self._http.close()  # type: ignore[attr-defined]
            self._http = None

    def _open_http(
        self, base_url: str, headers: Mapping[str, str], timeout_seconds: float
    ) -> httpx.Client:
        if self._http is None:  # type: ignore[attr-defined]
            self._http = httpx.Client(
                base_url=base_url.rstrip("/") + "/",
                headers=dict(headers),
                timeout=httpx.Timeout(timeout_seconds),
            )
        return self._http
