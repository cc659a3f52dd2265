"""Salesforce HTTP plumbing for the resource: its errors (`ApiError`s), API usage, the session,
and which failures are transient."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from revops_pipelines.infra.breaker import BreakerGuard, counts_toward_opening
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.rate_budget import RateBudgeted

# simple-salesforce is imported where a request is made: loading the definitions must not load it.
if TYPE_CHECKING:
    from simple_salesforce import Salesforce
    from simple_salesforce import exceptions as sf_exc

T = TypeVar("T")
ENV_VARS = {
    "instance_url": "SALESFORCE_INSTANCE_URL",
    "access_token": "SALESFORCE_ACCESS_TOKEN",
    "username": "SALESFORCE_USERNAME",
    "password": "SALESFORCE_PASSWORD",
    "security_token": "SALESFORCE_SECURITY_TOKEN",
    "domain": "SALESFORCE_DOMAIN",
}
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}


class SalesforceError(ApiError):
    """Base of the errors this resource raises. `retryable` (see `is_transient`) and `outage`
    are set per failure; configuration and field errors are neither."""

    def __init__(self, message: str, *, retryable: bool = False, outage: bool = False) -> None:
        super().__init__(message)
        self.retryable, self.outage = retryable, outage


class SalesforceNotConfigured(SalesforceError):
    """Credentials are absent or incomplete; the integration should be skipped, not crash."""


class SalesforceAuthenticationError(SalesforceError):
    """The login was refused."""


class SalesforceUnknownField(SalesforceError):
    def __init__(self, sobject: str, unknown: list[str], suggestions: dict[str, str]) -> None:
        hints = "".join(
            f" (did you mean '{suggestions[n]}'?)" if n in suggestions else "" for n in unknown[:1]
        )
        names = ", ".join(f"'{n}'" for n in unknown)
        super().__init__(f"{sobject} has no field {names}{hints}; check the field mapping")
        self.sobject, self.unknown = sobject, unknown


class SalesforceApiError(SalesforceError):
    """A request Salesforce refused for a reason of its own (validation, bad query, ...)."""

    def __init__(
        self,
        status: int | None,
        error_code: str,
        message: str,
        fields: list[str],
        retryable: bool = False,
        outage: bool = False,
    ) -> None:
        super().__init__(f"{error_code}: {message}".strip(), retryable=retryable, outage=outage)
        self.status, self.error_code, self.message, self.fields = (
            status,
            error_code,
            message,
            fields,
        )
        self.status_code = status


@dataclass(frozen=True)
class ApiUsage:
    used: int
    total: int

    @property
    def limit(self) -> int:
        """The daily allowance (`total`, as simple-salesforce calls it)."""
        return self.total

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 100.0


class SalesforceRequestLimitExceeded(SalesforceError):
    """The org's daily API limit (or this resource's share of it) is spent. Stop the run cleanly;
    the next run resumes. `resume_from` is the SystemModstamp of the last record handed out, if
    any: reading again from there (inclusive) loses nothing."""

    def __init__(
        self,
        message: str,
        api_usage: ApiUsage | None,
        resume_from: datetime | None = None,
        *,
        retryable: bool = False,
        outage: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable, outage=outage)
        self.api_usage, self.resume_from = api_usage, resume_from


def parse_limit_info(header: str | None) -> ApiUsage | None:
    match = _LIMIT_INFO.search(header or "")
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


def _error_details(exc: sf_exc.SalesforceError) -> tuple[str, str, list[str]]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return (
            str(first.get("errorCode", "")),
            str(first.get("message", "")),
            list(first.get("fields") or []),
        )
    return "", str(content)[:500], []


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: 5xx/429, dropped or timed-out connections, row locks, and the
    concurrent-request limit (unlike the daily total, it clears by itself)."""
    from simple_salesforce import exceptions as sf_exc

    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(
        exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    ):
        return True
    if isinstance(exc, sf_exc.SalesforceAuthenticationFailed):
        return isinstance(exc.code, int) and exc.code in _TRANSIENT_STATUS
    if isinstance(exc, sf_exc.SalesforceError):
        code, message, _ = _error_details(exc)
        if exc.status in _TRANSIENT_STATUS and not (
            exc.status == 429 and "TotalRequests" in message
        ):
            return True
        if code == "UNABLE_TO_LOCK_ROW":
            return True
        return code == "REQUEST_LIMIT_EXCEEDED" and "Concurrent" in message
    return False


def refusal(
    what: str, exc: sf_exc.SalesforceError, usage: ApiUsage | None
) -> SalesforceApiError | SalesforceRequestLimitExceeded:
    """Salesforce's refusal of `what` as this module's error: the daily limit (or a 429) as
    `SalesforceRequestLimitExceeded` carrying the last known `usage`, else `SalesforceApiError`
    with Salesforce's errorCode, message and fields. Retryable when `is_transient`."""
    code, message, fields = _error_details(exc)
    retryable, outage = is_transient(exc), counts_toward_opening(exc)
    if code == "REQUEST_LIMIT_EXCEEDED" or exc.status == 429:
        return SalesforceRequestLimitExceeded(
            f"Salesforce refused {what} with {code or exc.status}: {message}; stopping so the "
            "next run resumes",
            usage,
            retryable=retryable,
            outage=outage,
        )
    return SalesforceApiError(
        exc.status, code or str(exc.status), message, fields, retryable, outage
    )


def connection_error(what: str, exc: requests.RequestException) -> SalesforceApiError:
    """A request with no answer from Salesforce (dropped, timed out, refused, untrusted)."""
    text = f"Salesforce {what}: {type(exc).__name__}: {exc}"
    return SalesforceApiError(
        None, "CONNECTION_ERROR", text, [], is_transient(exc), counts_toward_opening(exc)
    )


class _Session(requests.Session):
    """A session that trusts the configured CA bundle even when REQUESTS_CA_BUNDLE points
    elsewhere, applies a default timeout, and records `Sforce-Limit-Info`."""

    def __init__(
        self, ca_bundle: str | None, timeout: float, on_usage: Callable[[ApiUsage], None]
    ) -> None:
        super().__init__()
        self._ca_bundle, self._timeout = ca_bundle, timeout
        self.hooks["response"].append(lambda response, *a, **k: self._usage(response, on_usage))

    @staticmethod
    def _usage(response: requests.Response, on_usage: Callable[[ApiUsage], None]) -> None:
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            on_usage(usage)
        if response.status_code >= 300:
            # An error's response lives on in the raised exception's traceback; read it now and
            # give its connection back to the pool rather than hold it until garbage collection.
            _ = response.content
            response.close()

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        if self._ca_bundle and kwargs.get("verify") is None:
            kwargs["verify"] = self._ca_bundle
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class SalesforceBreaker(BreakerGuard, RateBudgeted):
    """The resource's breaker and rate budget, shared per org URL and token (or user). The
    resource runs each call's whole retry loop under the breaker, so whole calls count, not
    single attempts."""

    def breaker_identity(self) -> tuple[str, str, str]:
        url = getattr(self, "instance_url", None) or getattr(self, "login_url")()  # noqa: B009
        credential = getattr(self, "access_token", None) or getattr(self, "username", None)
        return "Salesforce", str(url), credential or ""


class _State:
    def __init__(self) -> None:
        self.client: Salesforce | None = None
        self.usage: ApiUsage | None = None
        self.describes: dict[str, dict[str, dict[str, Any]]] = {}
