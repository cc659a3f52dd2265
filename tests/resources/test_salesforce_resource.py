"""SalesforceResource against the Salesforce sandbox over real HTTPS (simple-salesforce inside)."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from revops_pipelines.domain.soql import parse_salesforce_datetime
from revops_pipelines.resources.salesforce import (
    ApiUsage,
    SalesforceApiError,
    SalesforceAuthenticationError,
    SalesforceNotConfigured,
    SalesforceRequestLimitExceeded,
    SalesforceResource,
    SalesforceUnknownField,
    is_transient,
    parse_limit_info,
)
from revops_sandbox.salesforce import SalesforceSandbox, TlsMaterial, ensure_tls_material
from revops_sandbox.server import serve_in_thread

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 17, tzinfo=UTC)
FIELDS = ["Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue"]
FAST = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.05, "bulk_poll_seconds": 0.0}


class _Switch:
    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Switch, str, TlsMaterial]]:
    tls = ensure_tls_material(tmp_path_factory.mktemp("salesforce-tls"))
    switch = _Switch()
    with serve_in_thread(
        switch, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path)
    ) as running:
        yield switch, running.url, tls
        gc.collect()


class Setup:
    def __init__(self, sb: SalesforceSandbox, url: str, tls: TlsMaterial) -> None:
        self.sb, self.url, self.tls = sb, url, tls
        self.resources: list[SalesforceResource] = []

    def resource(self, **kwargs: Any) -> SalesforceResource:
        if "username" not in kwargs:
            kwargs.setdefault("instance_url", self.url)
            kwargs.setdefault("access_token", self.sb.access_token)
        resource = SalesforceResource(**{**FAST, **kwargs})
        self.resources.append(resource)
        return resource

    def rows_in(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = [r for r in self.sb.rows() if start <= r["SystemModstamp"] < end]
        return sorted(rows, key=lambda r: (r["SystemModstamp"], r["Id"]))


@pytest.fixture
def setup(server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """setup(**sandbox kwargs) -> Setup; the CA reaches the resource through REQUESTS_CA_BUNDLE."""
    switch, url, tls = server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.bundle_path))
    made: list[Setup] = []

    def start(**kwargs: Any) -> Setup:
        kwargs.setdefault("accounts", 1000)
        kwargs.setdefault("now", NOW)
        sandbox = SalesforceSandbox(**kwargs)
        switch.target = sandbox.app
        made.append(Setup(sandbox, url, tls))
        return made[-1]

    yield start
    for item in made:
        for resource in item.resources:
            resource.close()


def _flatten(pages: Any) -> list[dict[str, Any]]:
    return [record for page in pages for record in page]


# ---- reads ------------------------------------------------------------------------------------


def test_read_accounts_pages_through_query_all_in_order(setup) -> None:
    env = setup()
    start, end = NOW - timedelta(days=60), NOW
    resource = env.resource(page_size=200)
    pages = list(resource.read_accounts(FIELDS, start, end))
    expected = env.rows_in(start, end)
    assert len(expected) > 400 and len(pages) == -(-len(expected) // 200)
    assert all(len(page) == 200 for page in pages[:-1])
    records = _flatten(pages)
    assert [r["Id"] for r in records] == [r["Id"] for r in expected]
    assert any(r["IsDeleted"] for r in records)  # queryAll: soft deletes arrive as rows
    first, source = records[0], expected[0]
    assert set(first) == {"Id", "IsDeleted", *FIELDS, "SystemModstamp"}
    assert first["Name"] == source["Name"] and first["Website"] == source["Website"]
    assert parse_salesforce_datetime(first["SystemModstamp"]) == source["SystemModstamp"]
    assert env.sb.stats()["counts"]["query_more"] == len(pages) - 1
    assert resource.count_accounts(start, end) == len(expected)
    live = _flatten(resource.read_accounts(["Name"], start, end, include_deleted=False))
    assert len(live) == sum(not r["IsDeleted"] for r in expected)


def test_adjacent_day_windows_split_the_boundary_rows_exactly_once(setup) -> None:
    env = setup(accounts=1500)
    resource = env.resource()
    boundary = set(env.sb.notable["day_boundary"]["ids"])
    before = set(env.sb.notable["before_day_boundary"]["ids"])
    days = [MIDNIGHT + timedelta(days=d) for d in range(-10, 4)]
    seen: dict[str, datetime] = {}
    for day, next_day in itertools.pairwise(days):
        for record in _flatten(resource.read_accounts(["Name"], day, next_day)):
            assert record["Id"] not in seen, "a row was read by two windows"
            seen[record["Id"]] = day
    assert {seen[i] for i in boundary} == {MIDNIGHT}
    assert {seen[i] for i in before} == {MIDNIGHT - timedelta(days=1)}
    assert set(seen) == {r["Id"] for r in env.rows_in(days[0], days[-1])}


def test_unknown_fields_fail_before_any_query_naming_the_field(setup) -> None:
    env = setup(accounts=50)
    resource = env.resource()
    with pytest.raises(SalesforceUnknownField) as info:
        resource.read_accounts(["Name", "Websit"], NOW - timedelta(days=1), NOW)
    assert str(info.value) == (
        "Account has no field 'Websit' (did you mean 'Website'?); check the field mapping"
    )
    assert info.value.unknown == ["Websit"]
    counts = env.sb.stats()["counts"]
    assert counts["describe"] == 1 and "query" not in counts and "queryAll" not in counts
    assert resource.validate_fields(["name", "WEBSITE"]) == ["Name", "Website"]


def test_salesforce_refusals_of_a_query_name_the_culprit(setup) -> None:
    env = setup(accounts=50)
    resource = env.resource()
    with pytest.raises(SalesforceApiError) as info:
        list(resource.query("SELECT Id FROM Account WHERE SystemModstamp >= 2026-11-17T00:00"))
    assert info.value.status == 400 and info.value.error_code == "MALFORMED_QUERY"
    assert "malformed datetime literal '2026-11-17T00:00'" in info.value.message
    with pytest.raises(SalesforceApiError) as info:
        list(resource.query("SELECT Id, Foo__c FROM Account"))
    assert info.value.error_code == "INVALID_FIELD"
    assert "No such column 'Foo__c' on entity 'Account'" in str(info.value)
    pages = list(
        resource.query("SELECT Id FROM Account WHERE IsDeleted = true", include_deleted=True)
    )
    assert {r["Id"] for r in _flatten(pages)} == {r["Id"] for r in env.sb.rows() if r["IsDeleted"]}


def test_bulk_and_auto_give_the_same_records_as_rest(setup) -> None:
    env = setup(accounts=800)
    start, end = NOW - timedelta(days=120), NOW
    rest = _flatten(env.resource().read_accounts(FIELDS, start, end))
    bulk = _flatten(env.resource().read_accounts(FIELDS, start, end, method="bulk"))
    assert bulk == rest and len(rest) == 800
    auto = env.resource(bulk_threshold=500)
    assert _flatten(auto.read_accounts(FIELDS, start, end, method="auto")) == rest
    assert env.sb.stats()["counts"]["bulk2_jobs"] == 2
    small = env.resource(bulk_threshold=10_000)
    assert _flatten(small.read_accounts(FIELDS, start, end, method="auto")) == rest
    assert env.sb.stats()["counts"]["bulk2_jobs"] == 2
    # An org without Bulk API 2.0: "auto" falls back to REST, an explicit "bulk" says why not.
    refusal = {"status": 400, "path": "/jobs/query", "method": "POST"}
    env.sb.inject_fault(**refusal, error_code="FEATURENOTENABLED", message="Bulk API disabled")
    assert _flatten(auto.read_accounts(FIELDS, start, end, method="auto")) == rest
    env.sb.inject_fault(**refusal, error_code="FEATURENOTENABLED", message="Bulk API disabled")
    with pytest.raises(SalesforceApiError, match="FEATURENOTENABLED: Bulk API disabled"):
        auto.read_accounts(FIELDS, start, end, method="bulk")


# ---- limits and retries -----------------------------------------------------------------------


def test_request_limit_exceeded_stops_cleanly_and_the_next_run_resumes(setup) -> None:
    env = setup(daily_api_limit=10_000)
    start, end = NOW - timedelta(days=120), NOW
    resource = env.resource(page_size=200)
    got: list[dict[str, Any]] = []
    with pytest.raises(SalesforceRequestLimitExceeded) as info:
        for number, page in enumerate(resource.read_accounts(FIELDS, start, end), 1):
            got.extend(page)
            if number == 2:
                env.sb.set_api_usage(remaining=0)  # the org spends its last calls elsewhere
    assert len(got) == 400
    assert str(info.value) == (
        "Salesforce refused query_more with REQUEST_LIMIT_EXCEEDED: TotalRequests Limit "
        "exceeded.; stopping so the next run resumes"
    )
    assert info.value.resume_from == parse_salesforce_datetime(got[-1]["SystemModstamp"])
    assert env.sb.stats()["counts"]["rejected_request_limit"] == 1  # no retries of a refusal
    env.sb.set_api_usage(used=0)  # a new day
    rest = _flatten(resource.read_accounts(FIELDS, info.value.resume_from, end))
    assert {r["Id"] for r in got} | {r["Id"] for r in rest} == {r["Id"] for r in env.sb.rows()}


def test_a_limit_hit_before_the_first_page_has_nothing_to_resume_from(setup) -> None:
    env = setup(accounts=50, daily_api_limit=100)
    resource = env.resource(max_api_usage_percent=100)
    resource.describe_fields()
    env.sb.set_api_usage(remaining=0)
    with pytest.raises(SalesforceRequestLimitExceeded) as info:
        list(resource.read_accounts(FIELDS, NOW - timedelta(days=1), NOW))
    assert info.value.resume_from is None
    assert info.value.api_usage == ApiUsage(100, 100)  # from the refusal's Sforce-Limit-Info


def test_own_budget_stops_before_spending_the_orgs_last_calls(setup) -> None:
    env = setup(accounts=50, daily_api_limit=1000)
    resource = env.resource(max_api_usage_percent=90)
    assert resource.count_accounts(NOW - timedelta(days=1), NOW) >= 0
    assert resource.api_usage == ApiUsage(1, 1000)
    assert (resource.api_usage.limit, resource.api_usage.percent) == (1000, 0.1)
    env.sb.set_api_usage(used=950)
    resource.count_accounts(NOW - timedelta(days=1), NOW)  # learns usage 951/1000
    calls = env.sb.api_used
    with pytest.raises(SalesforceRequestLimitExceeded, match=r"951/1000 \(95%\)"):
        resource.count_accounts(NOW - timedelta(days=1), NOW)
    assert env.sb.api_used == calls  # nothing was sent


def test_transient_503s_and_dropped_connections_are_retried(setup) -> None:
    env = setup(accounts=300)
    env.sb.inject_fault(status=503, count=2, path="/queryAll")
    env.sb.inject_fault(drop="before", count=1, path="/queryAll")
    env.sb.inject_fault(status=500, count=1, path="/describe")
    resource = env.resource()
    records = _flatten(resource.read_accounts(["Name"], NOW - timedelta(days=120), NOW))
    assert len(records) == 300
    assert env.sb.stats()["counts"]["faults_served"] == 4


def test_a_connection_that_keeps_dropping_ends_in_a_connection_error(setup) -> None:
    env = setup(accounts=30)
    env.sb.inject_fault(drop="before", count=5, path="/query")
    resource = env.resource(max_attempts=2)
    with pytest.raises(SalesforceApiError) as info:
        resource.count_accounts(NOW - timedelta(days=1), NOW)
    assert info.value.error_code == "CONNECTION_ERROR" and "ConnectionError" in str(info.value)
    assert env.sb.stats()["counts"]["faults_served"] == 2


def test_retries_are_bounded(setup) -> None:
    env = setup(accounts=30)
    env.sb.inject_fault(status=503, count=10, path="/query")
    resource = env.resource(max_attempts=3)
    with pytest.raises(SalesforceApiError) as info:
        resource.count_accounts(NOW - timedelta(days=1), NOW)
    assert info.value.status == 503 and info.value.error_code == "SERVER_UNAVAILABLE"
    assert env.sb.stats()["counts"]["faults_served"] == 3


def test_concurrent_limit_is_transient_but_the_daily_total_is_not() -> None:
    from simple_salesforce.exceptions import SalesforceRefusedRequest

    def refused(message: str) -> SalesforceRefusedRequest:
        content = [{"message": message, "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        return SalesforceRefusedRequest("https://x", 403, "query", content)  # type: ignore[arg-type]

    assert is_transient(refused("ConcurrentPerOrgLongTxn Limit exceeded."))
    assert not is_transient(refused("TotalRequests Limit exceeded."))
    assert parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=x)") == ApiUsage(
        18, 5000
    )
    assert parse_limit_info(None) is None


# ---- writes -----------------------------------------------------------------------------------


def test_update_account_is_visible_on_the_next_read(setup) -> None:
    env = setup(accounts=100)
    account = next(r for r in env.sb.rows() if not r["IsDeleted"])
    resource = env.resource()
    resource.update_account(account["Id"], {"Industry": "Energy", "NumberOfEmployees": 1234})
    window = list(resource.read_accounts(FIELDS, NOW, NOW + timedelta(days=1)))
    assert len(window) == 1 and [r["Id"] for r in window[0]] == [account["Id"]]
    record = window[0][0]
    assert record["Industry"] == "Energy" and record["NumberOfEmployees"] == 1234
    assert parse_salesforce_datetime(record["SystemModstamp"]) >= NOW
    with pytest.raises(SalesforceApiError) as info:
        resource.update_account(account["Id"], {"Name": "x" * 300})
    assert info.value.error_code == "STRING_TOO_LONG" and info.value.fields == ["Name"]
    assert env.sb.account(account["Id"])["Name"] == account["Name"]


# ---- authentication and configuration ---------------------------------------------------------


def test_username_password_login_and_relogin_after_expiry(setup) -> None:
    env = setup(accounts=100)
    resource = env.resource(
        username=env.sb.username,
        password=env.sb.password,
        security_token=env.sb.security_token,
        domain=env.url,
    )
    window = (NOW - timedelta(days=120), NOW)
    assert resource.count_accounts(*window) == 100
    env.sb.expire_sessions()
    assert resource.count_accounts(*window) == 100  # logged in again by itself
    assert env.sb.stats()["counts"]["login"] == 2
    wrong = env.resource(username=env.sb.username, password="nope", domain=env.url)
    with pytest.raises(SalesforceAuthenticationError) as info:
        wrong.count_accounts(*window)
    assert "INVALID_LOGIN" in str(info.value) and "nope" not in str(info.value)


def test_a_bad_access_token_says_so(setup) -> None:
    env = setup(accounts=10)
    with pytest.raises(SalesforceAuthenticationError, match="INVALID_SESSION_ID"):
        env.resource(access_token="expired").count_accounts(NOW - timedelta(days=1), NOW)


def test_configuration_problems_name_variables_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    empty = SalesforceResource.from_env()
    assert not empty.is_configured()
    assert "SALESFORCE_ACCESS_TOKEN" in (empty.configuration_problem() or "")
    with pytest.raises(SalesforceNotConfigured):
        empty.client()
    half = SalesforceResource(access_token="tok-123")
    assert half.configuration_problem() == (
        "SALESFORCE_ACCESS_TOKEN is set but SALESFORCE_INSTANCE_URL is not"
    )
    plain = SalesforceResource(instance_url="http://x.example", access_token="tok-123")
    assert "must be an https:// URL" in (plain.configuration_problem() or "")
    secret = SalesforceResource(username="u", password="hunter2", security_token="tok-xyz")
    assert "hunter2" not in repr(secret) and "tok-xyz" not in repr(secret)
    assert secret.login_url() == "https://login.salesforce.com"
    assert SalesforceResource(domain="test").login_url() == "https://test.salesforce.com"
    assert SalesforceResource(domain="acme.my").login_url() == "https://acme.my.salesforce.com"


def test_explicit_ca_bundle_wins_over_the_environment(setup, monkeypatch) -> None:
    env = setup(accounts=10)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    resource = env.resource(ca_bundle=str(env.tls.ca_path))
    assert resource.count_accounts(NOW - timedelta(days=120), NOW) > 0
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("SSL_CERT_FILE", str(env.tls.ca_path))
    assert env.resource().resolved_ca_bundle() == str(env.tls.ca_path)
    assert env.resource().count_accounts(NOW - timedelta(days=120), NOW) > 0


def test_in_a_dagster_run_wired_from_the_environment(setup, monkeypatch) -> None:
    env = setup(accounts=200)
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", env.url)
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", env.sb.access_token)
    monkeypatch.delenv("SALESFORCE_USERNAME", raising=False)
    seen: dict[str, Any] = {}

    @dg.asset
    def accounts(salesforce: SalesforceResource) -> None:
        pages = salesforce.read_accounts(["Name"], MIDNIGHT, MIDNIGHT + timedelta(days=1))
        seen["ids"] = {r["Id"] for page in pages for r in page}
        seen["usage"] = salesforce.api_usage

    resource = SalesforceResource.from_env(**FAST)
    assert dg.materialize([accounts], resources={"salesforce": resource}).success
    assert set(env.sb.notable["day_boundary"]["ids"]) <= seen["ids"]
    assert seen["ids"] == {r["Id"] for r in env.rows_in(MIDNIGHT, MIDNIGHT + timedelta(1))}
    assert seen["usage"].used == env.sb.api_used
