"""The Salesforce sandbox over HTTPS on loopback, driven by the real simple-salesforce client."""

from __future__ import annotations

import csv
import gc
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from revops_sandbox.salesforce import (
    SalesforceSandbox,
    TlsMaterial,
    ensure_tls_material,
    serve_salesforce_sandbox,
)
from revops_sandbox.salesforce.org import generate_accounts, salesforce_id
from revops_sandbox.salesforce.schema import INDUSTRIES
from revops_sandbox.server import serve_in_thread

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 17, tzinfo=UTC)  # the planted day boundary: now's day - 3
# Salesforce's response datetimes: UTC, milliseconds, an offset without a colon (reference §2.2).
RESPONSE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def sf_time(text: str) -> datetime:
    """A response datetime read with the standard library alone (3.11 reads `+0000`)."""
    assert RESPONSE_DATETIME.match(text) or text.endswith(".000Z"), text
    return datetime.fromisoformat(text)


class Org:
    def __init__(self, sandbox: SalesforceSandbox, url: str, tls: TlsMaterial) -> None:
        self.sb, self.url, self.tls = sandbox, url, tls
        self.http = requests.Session()
        self.sf = Salesforce(instance_url=url, session_id=sandbox.access_token, session=self.http)

    def admin(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return self.http.request(method, f"{self.url}/_sandbox{path}", **kwargs)  # type: ignore[arg-type]


class _Switch:
    """One HTTPS server for the module; each test points it at a fresh sandbox."""

    def __init__(self) -> None:
        self.target: object = None

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        await self.target(scope, receive, send)  # type: ignore[operator]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Switch, str, TlsMaterial]]:
    tls = ensure_tls_material(tmp_path_factory.mktemp("salesforce-tls"))
    switch = _Switch()
    with serve_in_thread(
        switch, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path)
    ) as running:
        yield switch, running.url, tls
        gc.collect()  # responses held by caught errors keep their connections checked out


@pytest.fixture
def serve(server, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """serve(**sandbox kwargs) -> Org: a sandbox on HTTPS, trusted via REQUESTS_CA_BUNDLE."""
    switch, url, tls = server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.bundle_path))
    orgs: list[Org] = []

    def start(**kwargs: object) -> Org:
        kwargs.setdefault("accounts", 400)
        kwargs.setdefault("now", NOW)
        sandbox = SalesforceSandbox(**kwargs)  # type: ignore[arg-type]
        switch.target = sandbox.app
        orgs.append(Org(sandbox, url, tls))
        return orgs[-1]

    yield start
    for org in orgs:
        org.http.close()


def _ids(records: list[dict]) -> set[str]:
    return {r["Id"] for r in records}


# ---- the org ----------------------------------------------------------------------------------


def test_default_org_is_deterministic_large_and_messy() -> None:
    org = generate_accounts(20_000, seed=0, now=NOW)
    assert generate_accounts(3_000, 0, NOW).rows == generate_accounts(3_000, 0, NOW).rows
    assert generate_accounts(50, seed=1, now=NOW).rows != generate_accounts(50, 0, NOW).rows
    rows = org.rows
    assert len({r["Id"] for r in rows}) == 20_000
    assert all(len(r["Id"]) == 18 and r["Id"].startswith("001") for r in rows)
    stamps = [r["SystemModstamp"] for r in rows]
    assert min(stamps) >= NOW - timedelta(days=120) and max(stamps) < NOW
    assert all(s.microsecond == 0 for s in stamps)
    assert all(r["CreatedDate"] <= r["LastModifiedDate"] <= r["SystemModstamp"] for r in rows)
    deleted = sum(r["IsDeleted"] for r in rows)
    assert 300 < deleted < 1000
    websites = Counter(r["Website"] for r in rows)
    assert websites[None] > 1000 and websites["   "] > 100 and "" not in websites  # missing
    assert any(w and w.startswith("HTTPS://WWW.") for w in websites)  # messy forms
    assert any(n > 1 for w, n in websites.items() if w and "." in w and w != "gmail.com")
    assert any(not r["Name"].isascii() for r in rows)  # non-ASCII names
    industries = Counter(r["Industry"] for r in rows)
    assert industries[None] > 1000 and "Banking" in industries and "tech" in industries
    assert {"USA", "United States", "Deutschland", "DE"} <= {r["BillingCountry"] for r in rows}
    boundary = org.notable["day_boundary"]
    assert boundary["stamp"] == MIDNIGHT and len(boundary["ids"]) == 6
    on_boundary = [r for r in rows if r["SystemModstamp"] == MIDNIGHT]
    assert {r["Id"] for r in on_boundary} == set(boundary["ids"])
    assert any(r["IsDeleted"] for r in on_boundary)


def test_salesforce_ids_carry_the_case_safe_suffix() -> None:
    assert salesforce_id("001", 1) == "001Dn0000000001IAA"  # 'D' is upper case: bit 3 -> 'I'
    assert salesforce_id("005", 62) == "005Dn0000000010IAA"


# ---- queries ----------------------------------------------------------------------------------


def test_query_hides_soft_deleted_rows_and_query_all_shows_them(serve) -> None:
    org = serve(accounts=300)
    deleted = {r["Id"] for r in org.sb.rows() if r["IsDeleted"]}
    assert deleted
    live = org.sf.query_all("SELECT Id, IsDeleted FROM Account")["records"]
    everything = org.sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    assert len(everything["records"]) == 300
    assert len(live) == 300 - len(deleted)
    assert _ids(everything["records"]) - _ids(live) == deleted
    assert {r["Id"] for r in everything["records"] if r["IsDeleted"] is True} == deleted
    assert org.sf.query("SELECT Id FROM Account WHERE IsDeleted = true")["totalSize"] == 0


def test_paging_follows_relative_next_records_urls(serve) -> None:
    org = serve(accounts=400, page_size=70)
    query = "SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp, Id"
    first = org.sf.query(query, include_deleted=True)
    assert first["totalSize"] == 400 and first["done"] is False and len(first["records"]) == 70
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/queryAll/01g")
    assert first["nextRecordsUrl"].endswith("-70")
    assert first["records"][0]["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{first['records'][0]['Id']}",
    }
    records = list(org.sf.query_all_iter(query, include_deleted=True))
    assert len(records) == 400 and len(_ids(records)) == 400
    keys = [(r["SystemModstamp"], r["Id"]) for r in records]
    assert keys == sorted(keys)
    assert org.sb.stats()["counts"]["query_more"] == 5  # 6 pages: 70*5 + 50
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.query_more("01gDn0000000999IAA-70")
    assert info.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_batch_size_header_is_honoured_within_salesforce_bounds(serve) -> None:
    org = serve(accounts=500)
    page = org.sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=250"})
    assert len(page["records"]) == 250 and page["nextRecordsUrl"].endswith("-250")
    tiny = org.sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200  # the minimum is 200


def test_rows_on_a_day_boundary_land_in_exactly_one_of_two_adjacent_windows(serve) -> None:
    org = serve(accounts=400)
    on_boundary = set(org.sb.notable["day_boundary"]["ids"])
    just_before = set(org.sb.notable["before_day_boundary"]["ids"])
    window = "SELECT Id FROM Account WHERE SystemModstamp >= {} AND SystemModstamp < {}"
    day_before = org.sf.query_all(
        window.format("2026-11-16T00:00:00Z", "2026-11-17T00:00:00Z"), include_deleted=True
    )["records"]
    day_of = org.sf.query_all(
        window.format("2026-11-17T00:00:00Z", "2026-11-18T00:00:00Z"), include_deleted=True
    )["records"]
    assert on_boundary <= _ids(day_of) and not on_boundary & _ids(day_before)
    assert just_before <= _ids(day_before) and not just_before & _ids(day_of)
    expected_day_of = {
        r["Id"]
        for r in org.sb.rows()
        if MIDNIGHT <= r["SystemModstamp"] < MIDNIGHT + timedelta(days=1)
    }
    assert _ids(day_of) == expected_day_of
    # The same instant written with an offset selects the same rows.
    shifted = org.sf.query_all(
        window.format("2026-11-17T01:00:00+01:00", "2026-11-18T01:00:00+01:00"),
        include_deleted=True,
    )["records"]
    assert _ids(shifted) == expected_day_of


def test_count_and_count_of_a_field(serve) -> None:
    org = serve(accounts=300)
    rows = org.sb.rows(include_deleted=False)
    banking = [r for r in rows if r["Industry"] == "Banking"]
    result = org.sf.query("SELECT count() FROM Account WHERE Industry = 'banking'")
    assert result == {"totalSize": len(banking), "done": True, "records": []}
    aggregate = org.sf.query("SELECT COUNT(Website) FROM Account")
    assert aggregate["records"][0]["expr0"] == sum(1 for r in rows if r["Website"] is not None)
    everything = org.sf.query("SELECT count() FROM Account", include_deleted=True)
    assert everything["totalSize"] == 300


def test_where_with_and_or_comparisons_order_by_and_limit(serve) -> None:
    org = serve(accounts=400)
    query = (
        "SELECT Id, Name, NumberOfEmployees FROM Account WHERE (Industry = 'Banking' OR "
        "Industry IN ('Finance', 'Insurance')) AND NumberOfEmployees >= 20 AND "
        "CreatedDate < 2026-11-01T00:00:00Z ORDER BY NumberOfEmployees DESC, Id LIMIT 7"
    )
    got = org.sf.query(query)["records"]
    rows = [
        r
        for r in org.sb.rows(include_deleted=False)
        if r["Industry"] in {"Banking", "Finance", "Insurance"}
        and (r["NumberOfEmployees"] or 0) >= 20
        and r["CreatedDate"] < datetime(2026, 11, 1, tzinfo=UTC)
    ]
    rows.sort(key=lambda r: r["Id"])
    rows.sort(key=lambda r: r["NumberOfEmployees"], reverse=True)
    assert [r["Id"] for r in got] == [r["Id"] for r in rows[:7]]
    assert len(got) == 7


def test_null_like_not_in_and_string_escapes(serve) -> None:
    org = serve(accounts=300)
    rows = org.sb.rows(include_deleted=False)
    no_site = org.sf.query_all("SELECT Id FROM Account WHERE Website = null")["records"]
    assert _ids(no_site) == {r["Id"] for r in rows if r["Website"] is None}
    not_in = org.sf.query_all("SELECT Id FROM Account WHERE Industry NOT IN ('Banking', 'Retail')")[
        "records"
    ]  # SOQL: a null Industry is "not in" the list
    assert _ids(not_in) == {r["Id"] for r in rows if r["Industry"] not in {"Banking", "Retail"}}
    like = org.sf.query_all("SELECT Id FROM Account WHERE Name LIKE 'acme%'")["records"]
    assert _ids(like) == {r["Id"] for r in rows if r["Name"].lower().startswith("acme")}
    quoted = org.sf.query("SELECT Id FROM Account WHERE Name = 'O\\'Brien \\\\ Sons'")
    assert quoted["totalSize"] == 0


@pytest.mark.parametrize(
    ("literal", "named"),
    [
        ("2026-11-17T00:00:00", "'2026-11-17T00:00:00'"),  # no zone designator
        ("2026-13-01T00:00:00Z", "'2026-13-01T00:00:00Z'"),  # no 13th month
        ("2026-11-17T00:00:00Zjunk", "'2026-11-17T00:00:00Zjunk'"),
        ("2026-11-17 00:00:00Z", None),  # a space is not a T
    ],
)
def test_malformed_datetime_literals_are_named(serve, literal: str, named: str | None) -> None:
    org = serve(accounts=20)
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.query(f"SELECT Id FROM Account WHERE SystemModstamp >= {literal}")
    error = info.value.content[0]
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in error["message"]
    if named:
        assert f"malformed datetime literal {named}" in error["message"]


def test_unknown_fields_and_objects_and_bad_values_are_named(serve) -> None:
    org = serve(accounts=20)
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.query("SELECT Id, Websit FROM Account")
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Websit' on entity 'Account'" in info.value.content[0]["message"]
    assert "ERROR at Row:1:Column:12" in info.value.content[0]["message"]
    cases = {
        "SELECT Id FROM Acount": ("INVALID_TYPE", "sObject type 'Acount' is not supported"),
        "SELECT Id FROM Account WHERE SystemModstamp > '2026-11-17T00:00:00Z'": (
            "INVALID_QUERY_FILTER_OPERATOR",
            "field 'SystemModstamp' must be of type dateTime",
        ),
        "SELECT Id FROM Account WHERE Name = 'a' AND Id = 'b' OR Id = 'c'": (
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        "SELECT Id FROM Account ORDER BY Description": (
            "INVALID_FIELD",
            "field 'Description' can not be sorted",
        ),
        "SELECT Id FROM Account WHERE": ("MALFORMED_QUERY", "unexpected token: '<EOF>'"),
    }
    for query, (code, message) in cases.items():
        with pytest.raises(SalesforceMalformedRequest) as info:
            org.sf.query(query)
        assert info.value.content[0]["errorCode"] == code, query
        assert message in info.value.content[0]["message"], query


# ---- limits, sessions, faults -------------------------------------------------------------------


def test_limit_header_and_request_limit_exceeded(serve) -> None:
    org = serve(accounts=20, daily_api_limit=1000)
    org.sf.Account.describe()
    org.sf.query("SELECT Id FROM Account")
    assert org.sf.api_usage["api-usage"].used == 2  # parsed from Sforce-Limit-Info
    assert org.sf.api_usage["api-usage"].total == 1000
    assert org.admin("POST", "/limits", json={"remaining": 0}).json() == {
        "used": 1000,
        "limit": 1000,
    }
    with pytest.raises(SalesforceRefusedRequest) as info:
        org.sf.query("SELECT Id FROM Account")
    assert info.value.status == 403
    assert info.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    org.sb.set_api_usage(used=10)
    assert org.sf.query("SELECT count() FROM Account")["totalSize"] == 20 - sum(
        r["IsDeleted"] for r in org.sb.rows()
    )
    assert org.sb.api_used == 11


def test_a_bad_token_is_invalid_session_id(serve) -> None:
    org = serve(accounts=20)
    bad = Salesforce(instance_url=org.url, session_id="nope", session=org.http)
    with pytest.raises(SalesforceExpiredSession) as info:
        bad.query("SELECT Id FROM Account")
    assert info.value.status == 401
    assert info.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert org.sb.api_used == 0  # refused calls are not counted


def test_username_password_security_token_login_over_soap(serve) -> None:
    org = serve(accounts=20)
    session_id, instance = SalesforceLogin(
        username=org.sb.username,
        password=org.sb.password,
        security_token=org.sb.security_token,
        session=org.http,
        scratch_url=org.url,
    )
    assert instance == org.url.removeprefix("https://")
    assert session_id != org.sb.access_token and session_id.startswith("00D")
    sf = Salesforce(instance=instance, session_id=session_id, session=org.http)
    assert sf.query("SELECT count() FROM Account", include_deleted=True)["totalSize"] == 20
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        SalesforceLogin(
            username=org.sb.username,
            password="wrong",
            security_token=org.sb.security_token,
            session=org.http,
            scratch_url=org.url,
        )
    assert info.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in info.value.auth_message
    org.sb.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")
    assert org.sf.query("SELECT count() FROM Account")["totalSize"] > 0  # the token survives


def test_injected_503_and_dropped_connections(serve) -> None:
    org = serve(accounts=20)
    assert org.admin("POST", "/faults", json={"status": 503, "count": 2}).status_code == 201
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as info:
            org.sf.query("SELECT Id FROM Account")
        assert info.value.status == 503
        assert info.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert org.sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    org.sb.inject_fault(drop="before", path="/query")
    with pytest.raises(requests.ConnectionError):
        org.sf.query("SELECT Id FROM Account")
    account = org.sb.rows(include_deleted=False)[0]["Id"]
    org.sb.inject_fault(drop="after", method="PATCH")
    with pytest.raises(requests.ConnectionError):
        org.sf.Account.update(account, {"Industry": "Energy"})
    assert org.sb.account(account)["Industry"] == "Energy"  # it happened; the answer was lost
    assert org.sb.stats()["counts"]["faults_served"] == 4
    bad = org.admin("POST", "/faults", json={"status": 503, "colour": "red"})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]


# ---- describe, records, writes -----------------------------------------------------------------


def test_describe_lists_the_account_fields_with_types(serve) -> None:
    org = serve(accounts=20)
    described = org.sf.Account.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert {"Id", "Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue"} <= set(
        fields
    )
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["SystemModstamp"]["updateable"] is False
    assert fields["AnnualRevenue"]["type"] == "currency"
    assert [p["value"] for p in fields["Industry"]["picklistValues"]] == list(INDUSTRIES)
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Contact.describe()


def test_patch_is_visible_on_the_next_read_and_moves_the_stamps(serve) -> None:
    org = serve(accounts=50)
    account = next(r for r in org.sb.rows() if not r["IsDeleted"])
    assert org.sf.Account.update(account["Id"], {"Website": "https://renamed.example"}) == 204
    record = org.sf.query(
        f"SELECT Website, SystemModstamp FROM Account WHERE Id = '{account['Id']}'"
    )
    fetched = record["records"][0]
    assert fetched["Website"] == "https://renamed.example"
    stamp = sf_time(fetched["SystemModstamp"])
    assert NOW <= stamp < NOW + timedelta(minutes=5) and stamp > account["SystemModstamp"]
    assert org.sf.Account.get(account["Id"])["Website"] == "https://renamed.example"
    later = org.sf.query_all(
        f"SELECT Id FROM Account WHERE SystemModstamp >= {stamp.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )["records"]
    assert _ids(later) == {account["Id"]}


def test_write_errors_have_salesforce_shapes(serve) -> None:
    org = serve(accounts=50)
    live = next(r["Id"] for r in org.sb.rows() if not r["IsDeleted"])
    gone = next(r["Id"] for r in org.sb.rows() if r["IsDeleted"])
    cases = [
        ({"Websit": "x"}, 400, "INVALID_FIELD", "No such column 'Websit' on sobject of type"),
        ({"SystemModstamp": "2026-01-01T00:00:00.000+0000"}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: SystemModstamp"),
        ({"Name": None}, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]"),
        ({"Name": "x" * 256}, 400, "STRING_TOO_LONG", "max length=255"),
        ({"NumberOfEmployees": "many"}, 400, "JSON_PARSER_ERROR", "Cannot deserialize"),
    ]  # fmt: skip
    for data, status, code, message in cases:
        response = org.http.patch(
            f"{org.url}/services/data/v59.0/sobjects/Account/{live}",
            json=data,
            headers={"Authorization": f"Bearer {org.sb.access_token}"},
        )
        assert response.status_code == status, data
        assert response.json()[0]["errorCode"] == code, data
        assert message in response.json()[0]["message"], data
    with pytest.raises(SalesforceResourceNotFound) as info:
        org.sf.Account.update(gone, {"Name": "Back"})
    assert info.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_admin_routes_change_delete_undelete_and_purge(serve) -> None:
    org = serve(accounts=50)
    account = next(r["Id"] for r in org.sb.rows() if not r["IsDeleted"])
    changed = org.admin(
        "PATCH",
        f"/accounts/{account}",
        json={"Name": "Zürich Ærø AG", "SystemModstamp": "2026-11-19T00:00:00Z"},
    ).json()
    assert changed["Name"] == "Zürich Ærø AG"
    assert changed["SystemModstamp"] == "2026-11-19T00:00:00.000+0000"
    assert org.sf.Account.get(account)["Name"] == "Zürich Ærø AG"
    deleted = org.admin("DELETE", f"/accounts/{account}").json()
    assert deleted["IsDeleted"] is True
    assert account not in _ids(org.sf.query_all("SELECT Id FROM Account")["records"])
    in_bin = org.sf.query(f"SELECT IsDeleted FROM Account WHERE Id = '{account}'", True)
    assert in_bin["records"][0]["IsDeleted"] is True
    gone = org.sf.Account.deleted(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert account in {d["id"] for d in gone["deletedRecords"]}
    assert org.admin("POST", f"/accounts/{account}/undelete").json()["IsDeleted"] is False
    assert org.sf.Account.get(account)["IsDeleted"] is False
    assert org.admin("DELETE", f"/accounts/{account}?purge=true").status_code == 204
    assert org.sf.query(f"SELECT Id FROM Account WHERE Id = '{account}'", True)["totalSize"] == 0
    assert org.admin("GET", f"/accounts/{account}").status_code == 404
    created = org.admin("POST", "/accounts", json={"Name": "Neu GmbH", "Website": "neu.de"})
    assert created.status_code == 201 and created.json()["Id"].startswith("001")
    stats = org.admin("GET", "/stats").json()
    assert stats["accounts"]["total"] == 50 and stats["api_usage"]["used"] >= 6
    clock = org.admin("POST", "/clock", json={"advance_seconds": 86400}).json()
    assert sf_time(clock["now"]) >= NOW + timedelta(days=1)
    notable = org.admin("GET", "/notable").json()
    assert notable["day_boundary"]["stamp"] == "2026-11-17T00:00:00.000+0000"


def test_bulk2_query_all_job_through_simple_salesforce(serve) -> None:
    org = serve(accounts=450, bulk_polls_in_progress=1)
    fields = "Id, Name, Description, IsDeleted, AnnualRevenue, SystemModstamp"
    pages = list(
        org.sf.bulk2.Account.query_all(
            f"SELECT {fields} FROM Account ORDER BY SystemModstamp, Id", max_records=200, wait=0
        )
    )
    assert len(pages) == 3  # 200 + 200 + 50, paged by Sforce-Locator
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(rows) == 450 and len({r["Id"] for r in rows}) == 450
    by_id = {r["Id"]: r for r in org.sb.rows()}
    for row in rows:
        source = by_id[row["Id"]]
        assert row["Name"] == source["Name"]  # commas, quotes, newlines and non-ASCII survive
        assert row["Description"] == (source["Description"] or "")
        assert row["IsDeleted"] == ("true" if source["IsDeleted"] else "false")
        assert sf_time(row["SystemModstamp"]) == source["SystemModstamp"]
    assert any(r["IsDeleted"] == "true" for r in rows)
    stats = org.sb.stats()["counts"]
    assert stats["bulk2_jobs"] == 1 and stats["bulk2_results"] == 3 and stats["bulk2_polls"] == 2
    live = list(org.sf.bulk2.Account.query("SELECT Id FROM Account", wait=0))
    assert len(list(csv.DictReader(io.StringIO(live[0])))) == sum(
        not r["IsDeleted"] for r in org.sb.rows()
    )


def test_tls_material_is_reused_while_fresh(tmp_path: Path) -> None:
    first = ensure_tls_material(tmp_path)
    again = ensure_tls_material(tmp_path)
    assert first.ca_path.read_bytes() == again.ca_path.read_bytes()
    assert first.bundle_path.read_bytes().endswith(first.ca_path.read_bytes())
    assert first.env()["REQUESTS_CA_BUNDLE"] == str(first.bundle_path)
    assert oct(first.key_path.stat().st_mode & 0o777) == "0o600"


def test_serve_salesforce_sandbox_speaks_https_with_its_throwaway_ca(tmp_path: Path) -> None:
    sandbox = SalesforceSandbox(accounts=5, now=NOW)
    with serve_salesforce_sandbox(sandbox, tmp_path) as (server, tls), requests.Session() as http:
        assert server.url.startswith("https://127.0.0.1:")
        versions = http.get(f"{server.url}/services/data", verify=str(tls.ca_path)).json()
        assert versions[-1] == {
            "label": "API 59.0",
            "url": "/services/data/v59.0",
            "version": "59.0",
        }
        with pytest.raises(requests.exceptions.SSLError):
            http.get(f"{server.url}/services/data", verify=True)  # not a public CA
        limits = http.get(
            f"{server.url}/services/data/v59.0/limits/",
            headers={"Authorization": f"Bearer {sandbox.access_token}"},
            verify=str(tls.ca_path),
        )
        assert limits.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
        assert limits.json()["DailyApiRequests"] == {"Max": 100000, "Remaining": 99999}
