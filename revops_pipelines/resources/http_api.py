"""What the JSON-over-HTTP resources (enrichment, Outreach) share: one lazily opened
`httpx.Client` per resource, closed at the end of each step, their breaker and rate budget."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import httpx

from revops_pipelines.infra.breaker import BreakerGuard
from revops_pipelines.infra.rate_budget import RateBudgeted


class HttpApiResource(BreakerGuard, RateBudgeted):
    """Mixed into a ConfigurableResource that declares `_http: httpx.Client | None` as a
    PrivateAttr and says what is missing in `configuration_problem()`."""

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
