"""The one exception type of the Attio client."""

from __future__ import annotations

from typing import Any

from revops_pipelines.infra.breaker import is_transient_status
from revops_pipelines.infra.errors import ApiError


class AttioConfigError(RuntimeError):
    """The client is not configured (for example ATTIO_API_KEY is empty)."""


class AttioError(ApiError):
    """Any failed Attio call: an HTTP error answer, or a transport failure with no answer.

    `status_code`, `type`, `code`, `message` and `validation_errors` are Attio's own fields when
    Attio answered; a transport failure has `status_code=None` and `type="transport_error"`.
    `retryable` says whether sending again is safe and may succeed; `ambiguous` says the request
    may have been applied although no answer arrived (a non-idempotent write must look at the
    target before it is sent again). `attempts` and `waited_seconds` report the retries spent.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int | None,
        type: str,
        code: str,
        message: str,
        validation_errors: list[dict[str, Any]] | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.type = type
        self.code = code
        self.message = message
        self.validation_errors = validation_errors or []
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after_seconds = retry_after_seconds
        self.attempts = 1
        self.waited_seconds = 0.0
        super().__init__()

    def describe(self) -> str:
        status = self.status_code if self.status_code is not None else "no answer"
        text = f"Attio {self.method} {self.path} -> {status} {self.code}: {self.message}"
        details = "; ".join(_describe_validation_error(e) for e in self.validation_errors)
        if details:
            text += f" [{details}]"
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts, {self.waited_seconds:.1f} s waited)"
        return text

    @property
    def is_rate_limit(self) -> bool:
        return self.status_code == 429

    @property
    def outage(self) -> bool:
        """Attio looks unwell (no answer, 408 or 5xx): counts toward opening its breaker."""
        if self.status_code is None:
            return self.type == "transport_error"
        return is_transient_status(self.status_code)


def _describe_validation_error(error: dict[str, Any]) -> str:
    path = ".".join(str(p) for p in error.get("path", []))
    message = error.get("message") or error.get("code") or "invalid"
    return f"{path}: {message}" if path else str(message)
