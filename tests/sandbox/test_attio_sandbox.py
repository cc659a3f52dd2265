"""Records in the Attio sandbox over real HTTP: assert, uniqueness, read shapes, PATCH vs PUT,
validation errors, filters, sorts and paging."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from revops_sandbox.attio import AttioSandbox
from tests.sandbox import attio_helpers as h
from tests.sandbox.attio_helpers import API_KEY, assert_record, create, error, ok, query

sandbox, server, client = h.sandbox, h.server, h.client
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")
LOCATION = {
    "line_1": "1 Market St",
    "line_2": None,
    "line_3": None,
    "line_4": None,
    "locality": "San Francisco",
    "region": "CA",
    "postcode": "94105",
    "country_code": "US",
    "latitude": "37.7936",
    "longitude": "-122.3950",
}


def emails(record: dict[str, Any]) -> list[str]:
    return [v["email_address"] for v in record["values"]["email_addresses"]]


# --- assert and uniqueness ------------------------------------------------------------------
def test_assert_twice_updates_the_one_record(client: httpx.Client, sandbox: AttioSandbox) -> None:
    first = ok(
        assert_record(client, "companies", "domains", {"domains": ["acme.com"], "name": "A"})
    )
    second = ok(
        assert_record(client, "companies", "domains", {"domains": ["acme.com"], "name": "Acme"})
    )
    assert second["id"]["record_id"] == first["id"]["record_id"]
    stored = sandbox.records("companies")
    assert len(stored) == 1
    assert stored[0]["values"]["name"][0]["value"] == "Acme"
    assert sandbox.stats()["writes_applied"] == 2


def test_assert_appends_to_the_matching_multiselect(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    ok(assert_record(client, "people", "email_addresses", {"email_addresses": ["a@acme.com"]}))
    both = {"email_addresses": ["a@acme.com", "b@acme.com"], "job_title": "CTO"}
    record = ok(assert_record(client, "people", "email_addresses", both))
    assert emails(record) == ["b@acme.com", "a@acme.com"]
    again = ok(assert_record(client, "people", "email_addresses", both))
    assert emails(again) == ["b@acme.com", "a@acme.com"]
    assert len(sandbox.records("people")) == 1


def test_create_on_a_taken_domain_conflicts_and_stores_nothing(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    ok(create(client, "companies", {"domains": ["acme.com"], "name": "Acme"}))
    body = error(
        create(client, "companies", {"domains": ["https://ACME.com/pricing"], "name": "Dup"}),
        400,
        "uniqueness_conflict",
    )
    domains_attr = ok(client.get("/v2/objects/companies/attributes/domains"))
    assert '"{\\"domain\\":\\"acme.com\\"}"' not in body["message"]  # quoted once, not escaped
    assert '{"domain":"acme.com"}' in body["message"]
    assert domains_attr["id"]["attribute_id"] in body["message"]
    names = [r["values"]["name"][0]["value"] for r in sandbox.records("companies")]
    assert names == ["Acme"]


def test_patch_taking_another_records_email_is_refused(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    ok(create(client, "people", {"email_addresses": ["a@x.com"]}))
    b = ok(create(client, "people", {"email_addresses": ["b@x.com"], "job_title": "VP"}))
    rid = b["id"]["record_id"]
    patch = {"data": {"values": {"email_addresses": ["A@x.com"], "job_title": "CEO"}}}
    error(client.patch(f"/v2/objects/people/records/{rid}", json=patch), 400, "uniqueness_conflict")
    after = ok(client.get(f"/v2/objects/people/records/{rid}"))
    assert emails(after) == ["b@x.com"]
    assert after["values"]["job_title"][0]["value"] == "VP"


def test_assert_needs_a_unique_known_matching_attribute(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    values = {"domains": ["acme.com"], "name": "Acme"}
    body = error(
        assert_record(client, "companies", "name", values),
        400,
        "matching_attribute_definition_not_unique",
    )
    assert body["message"] == "The matching attribute specified is not a unique attribute."
    body = error(assert_record(client, "companies", "nope", values), 400, "value_not_found")
    assert body["message"] == 'Cannot find attribute with slug/ID "nope".'
    missing = client.put("/v2/objects/companies/records", json={"data": {"values": values}})
    body = error(missing, 400, "validation_type")
    assert body["validation_errors"][0]["path"] == ["matching_attribute"]
    error(
        assert_record(client, "companies", "record_id", values),
        400,
        "matching_attribute_definition_not_unique",
    )
    assert sandbox.records("companies") == []


# --- read shapes ----------------------------------------------------------------------------
def test_read_shape_carries_envelopes_and_derived_fields(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    company = ok(
        create(
            client,
            "companies",
            {
                "name": "Example",
                "domains": ["https://app.example.co.uk/login?next=/"],
                "industry": "Technology",
                "annual_revenue": 1250000.5,
                "employee_count": 120,
                "primary_location": LOCATION,
            },
        )
    )
    person = ok(
        create(
            client,
            "people",
            {
                "name": {"first_name": "Jane", "last_name": "Doe", "full_name": "Jane Doe"},
                "email_addresses": [{"email_address": "Jane.Doe+news@Mail.Example.co.uk"}],
                "company": "app.example.co.uk",
                "owner": {"workspace_member_email_address": "ava.thompson@northwindsales.io"},
            },
        )
    )
    assert uuid.UUID(person["id"]["record_id"]).version == 4
    assert TS.match(person["created_at"])
    assert person["web_url"].endswith(person["id"]["record_id"])
    token_actor = {"type": "api-token", "id": sandbox.token_id(API_KEY)}
    for record in (company, person):
        for slug, values in record["values"].items():
            assert isinstance(values, list), slug
            for v in values:
                assert TS.match(v["active_from"]) and v["active_until"] is None, slug
                assert v["attribute_type"], slug
                if slug not in ("record_id", "created_at", "created_by"):
                    assert v["created_by_actor"] == token_actor, slug
    cv = company["values"]
    assert cv["domains"][0]["domain"] == "app.example.co.uk"
    assert cv["domains"][0]["root_domain"] == "example.co.uk"
    assert cv["industry"][0]["option"]["title"] == "Technology"
    assert set(cv["industry"][0]["option"]["id"]) == {
        "workspace_id",
        "object_id",
        "attribute_id",
        "option_id",
    }
    assert cv["annual_revenue"][0]["currency_value"] == 1250000.5
    assert cv["annual_revenue"][0]["currency_code"] == "USD"
    assert cv["primary_location"][0] == {
        **cv["primary_location"][0],
        **LOCATION,
        "attribute_type": "location",
    }
    assert cv["description"] == []
    assert cv["record_id"][0]["value"] == company["id"]["record_id"]
    pv = person["values"]
    email = pv["email_addresses"][0]
    assert email["original_email_address"] == "Jane.Doe+news@Mail.Example.co.uk"
    assert email["email_address"] == "jane.doe+news@mail.example.co.uk"
    assert email["email_domain"] == "mail.example.co.uk"
    assert email["email_root_domain"] == "example.co.uk"
    assert email["email_local_specifier"] == "jane.doe+news"
    assert email["attribute_type"] == "email-address"
    assert pv["name"][0]["full_name"] == "Jane Doe"
    assert pv["company"][0]["target_object"] == "companies"
    assert pv["company"][0]["target_record_id"] == company["id"]["record_id"]
    assert pv["owner"][0]["referenced_actor_type"] == "workspace-member"
    members = {m["email_address"]: m["id"]["workspace_member_id"] for m in sandbox.members()}
    assert pv["owner"][0]["referenced_actor_id"] == members["ava.thompson@northwindsales.io"]
    assert pv["created_by"][0]["referenced_actor_id"] == sandbox.token_id(API_KEY)
    team = ok(client.get(f"/v2/objects/companies/records/{company['id']['record_id']}"))
    assert [t["target_record_id"] for t in team["values"]["team"]] == [person["id"]["record_id"]]


def test_personal_name_string_form(client: httpx.Client) -> None:
    person = ok(create(client, "people", {"name": "Smith, John"}))
    assert {
        k: person["values"]["name"][0][k] for k in ("first_name", "last_name", "full_name")
    } == {"first_name": "John", "last_name": "Smith", "full_name": "John Smith"}


# --- PATCH vs PUT ---------------------------------------------------------------------------
def test_patch_prepends_and_put_overwrites(client: httpx.Client) -> None:
    rid = ok(create(client, "people", {"email_addresses": ["a@x.com"]}))["id"]["record_id"]
    url = f"/v2/objects/people/records/{rid}"
    original = ok(client.get(url))["values"]["email_addresses"][0]
    patched = ok(
        client.patch(url, json={"data": {"values": {"email_addresses": ["b@x.com", "A@X.com"]}}})
    )
    assert emails(patched) == ["b@x.com", "a@x.com"]
    assert patched["values"]["email_addresses"][1] == original  # never moved, never restamped
    put = ok(client.put(url, json={"data": {"values": {"email_addresses": ["c@x.com"]}}}))
    assert emails(put) == ["c@x.com"]
    job = ok(client.patch(url, json={"data": {"values": {"job_title": "CFO"}}}))
    assert emails(job) == ["c@x.com"]  # attributes not sent are left alone
    cleared = ok(client.put(url, json={"data": {"values": {"job_title": []}}}))
    assert cleared["values"]["job_title"] == []


def test_delete_answers_an_empty_object(client: httpx.Client, sandbox: AttioSandbox) -> None:
    rid = ok(create(client, "companies", {"domains": ["gone.com"]}))["id"]["record_id"]
    response = client.delete(f"/v2/objects/companies/records/{rid}")
    assert response.status_code == 200 and response.json() == {}
    body = error(client.get(f"/v2/objects/companies/records/{rid}"), 404, "not_found")
    assert body["message"] == f'Record with ID "{rid}" not found.'
    ok(create(client, "companies", {"domains": ["gone.com"]}))  # the domain is free again


# --- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "code", "path"),
    [
        ({"values": {"name": "x"}}, "validation_type", ["data"]),  # no data wrapper
        ({"data": {"values": {"name": "x"}, "extra": 1}}, "validation_type", ["data"]),
        ({"data": {}}, "validation_type", ["data", "values"]),
        ({"data": {"values": {"domains": "acme.com"}}}, "validation_type", []),
        ({"data": {"values": {"domains": ["not a domain"]}}}, "validation_type", [0, "domain"]),
        (
            {"data": {"values": {"primary_location": {"locality": "Paris"}}}},
            "validation_type",
            ["line_1"],
        ),
        ({"data": {"values": {"employee_count": "12"}}}, "validation_type", ["value"]),
    ],
)
def test_invalid_company_writes_are_refused_with_paths(
    client: httpx.Client, sandbox: AttioSandbox, payload: Any, code: str, path: list[Any]
) -> None:
    body = error(client.post("/v2/objects/companies/records", json=payload), 400, code)
    assert path in [e["path"] for e in body["validation_errors"]], body
    assert sandbox.records("companies") == []


@pytest.mark.parametrize(
    ("values", "code", "message"),
    [
        (
            {"email_addresses": ["not-an-email"]},
            "validation_type",
            'An invalid value was passed to attribute with slug "email_addresses".',
        ),
        ({"email_addresses": ["a b@x.com"]}, "validation_type", None),
        (
            {"favourite_colour": "red"},
            "value_not_found",
            'Cannot find attribute with slug/ID "favourite_colour".',
        ),
        ({"created_at": "2024-01-01"}, "system_edit_unauthorized", None),
        ({"record_id": str(uuid.uuid4())}, "system_edit_unauthorized", None),
        (
            {"company": {"target_object": "companies", "target_record_id": str(uuid.uuid4())}},
            "value_not_found",
            None,
        ),
        ({"company": str(uuid.uuid4())}, "validation_type", None),  # a bare id is not a reference
        (
            {"owner": {"referenced_actor_type": "api-token", "referenced_actor_id": "x"}},
            "validation_type",
            None,
        ),
        (
            {"owner": {"workspace_member_email_address": "nobody@nowhere.io"}},
            "value_not_found",
            None,
        ),
        ({"name": {"first_name": "Ann"}}, "validation_type", None),
        ({"job_title": None}, "validation_type", None),
    ],
)
def test_invalid_person_writes_are_refused(
    client: httpx.Client, sandbox: AttioSandbox, values: Any, code: str, message: str | None
) -> None:
    body = error(create(client, "people", values), 400, code)
    if message is not None:
        assert body["message"] == message
    if code == "validation_type":
        assert body["validation_errors"], body
    assert sandbox.records("people") == []


def test_unknown_select_title_is_value_not_found(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    body = error(create(client, "companies", {"industry": "Crypto"}), 400, "value_not_found")
    assert body["message"] == 'Cannot find select attribute with select option title "Crypto".'
    deal = error(create(client, "deals", {"stage": "Negotiation"}), 400, "value_not_found")
    assert "Negotiation" in deal["message"]
    owner = {
        "referenced_actor_type": "workspace-member",
        "referenced_actor_id": sandbox.members()[0]["id"]["workspace_member_id"],
    }
    won = ok(
        create(client, "deals", {"name": "Big", "stage": "Won 🎉", "value": "4.99", "owner": owner})
    )
    assert won["values"]["stage"][0]["status"]["title"] == "Won 🎉"
    assert won["values"]["value"][0]["currency_value"] == 4.99
    assert sandbox.stats()["records"]["companies"] == 0


def test_unknown_object_is_not_found(client: httpx.Client) -> None:
    body = error(create(client, "widgets", {"name": "x"}), 404, "not_found")
    assert body["message"] == 'Object with slug/ID "widgets" not found.'
    body = error(client.get("/v2/objects/companies/records"), 404, "not_found")
    assert body["message"] == 'Could not find endpoint "GET /v2/objects/companies/records".'


# --- filters, sorts, paging -----------------------------------------------------------------
@pytest.fixture
def people(client: httpx.Client) -> dict[str, str]:
    rows = [
        ("Ada", "Lovelace", "ada@analytical.io", "Engineer"),
        ("Grace", "Hopper", "grace@navy.mil", "Admiral"),
        ("Alan", "Turing", "alan@bletchley.co.uk", "Engineer"),
        ("Katherine", "Johnson", "kj@nasa.gov", "Mathematician"),
        ("Margaret", "Hamilton", "mh@nasa.gov", None),
    ]
    ids = {}
    for first, last, email, title in rows:
        values: dict[str, Any] = {
            "name": {"first_name": first, "last_name": last, "full_name": f"{first} {last}"},
            "email_addresses": [email],
        }
        if title:
            values["job_title"] = title
        ids[first] = ok(create(client, "people", values))["id"]["record_id"]
    return ids


def firsts(records: list[dict[str, Any]]) -> list[str]:
    return [r["values"]["name"][0]["first_name"] for r in records]


def test_filters(client: httpx.Client, people: dict[str, str]) -> None:
    def q(flt: Any) -> list[str]:
        return sorted(firsts(query(client, "people", filter=flt)))

    assert q({"email_addresses": "GRACE@navy.mil"}) == ["Grace"]
    assert q({"name": "Alan Turing"}) == ["Alan"]
    assert q({"job_title": "Engineer"}) == ["Ada", "Alan"]
    assert q({"email_addresses": {"email_domain": "nasa.gov"}}) == ["Katherine", "Margaret"]
    assert q({"name": {"last_name": {"$contains": "HOP"}}}) == ["Grace"]
    assert q({"name": {"full_name": {"$starts_with": "Ka"}}}) == ["Katherine"]
    assert q({"email_addresses": {"email_address": {"$ends_with": ".co.uk"}}}) == ["Alan"]
    assert q({"$or": [{"job_title": "Admiral"}, {"name": {"first_name": "Ada"}}]}) == [
        "Ada",
        "Grace",
    ]
    assert q({"$not": {"job_title": "Engineer"}}) == ["Grace", "Katherine", "Margaret"]
    assert q({"job_title": {"$not_empty": False}}) == ["Margaret"]
    assert q({"record_id": {"$in": [people["Ada"], people["Margaret"]]}}) == ["Ada", "Margaret"]
    assert (
        q(
            {
                "$and": [
                    {"job_title": "Engineer"},
                    {"email_addresses": {"email_root_domain": "co.uk"}},
                ]
            }
        )
        == []
    )
    everyone = query(client, "people")
    cut = everyone[2]["created_at"]
    assert q({"created_at": {"$gte": cut}}) == sorted(firsts(everyone[2:]))
    error(
        client.post(
            "/v2/objects/people/records/query", json={"filter": {"job_title": {"$like": "x"}}}
        ),
        400,
        "filter_error",
    )
    error(
        client.post("/v2/objects/people/records/query", json={"filter": {"shoe_size": 9}}),
        400,
        "filter_error",
    )


def test_filters_on_references_selects_and_numbers(client: httpx.Client) -> None:
    acme = ok(
        create(
            client,
            "companies",
            {"domains": ["acme.com"], "industry": "Retail", "employee_count": 50},
        )
    )
    ok(
        create(
            client,
            "companies",
            {"domains": ["big.com"], "industry": "Energy", "employee_count": 5000},
        )
    )
    ok(create(client, "people", {"email_addresses": ["x@acme.com"]}))
    ok(create(client, "people", {"email_addresses": ["y@gmail.com"]}))
    rid = acme["id"]["record_id"]
    linked = query(
        client,
        "people",
        filter={"company": {"target_object": "companies", "target_record_id": rid}},
    )
    assert [emails(r) for r in linked] == [["x@acme.com"]]
    retail = query(client, "companies", filter={"industry": "Retail"})
    assert [r["id"]["record_id"] for r in retail] == [rid]
    large = query(client, "companies", filter={"employee_count": {"$gt": 100, "$lte": 5000}})
    assert [r["values"]["domains"][0]["domain"] for r in large] == ["big.com"]


def test_paging_and_sorting(client: httpx.Client) -> None:
    names = ["delta", "alpha", "echo", "charlie", "golf", "bravo", "foxtrot"]
    for n in names:
        ok(create(client, "companies", {"name": n, "domains": [f"{n}.com"]}))
    sorts = [{"direction": "asc", "attribute": "name"}]
    pages = [query(client, "companies", sorts=sorts, limit=3, offset=o) for o in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]  # a short page is the only end marker
    seen = [r["values"]["name"][0]["value"] for p in pages for r in p]
    assert seen == sorted(names)
    desc = query(client, "companies", sorts=[{"direction": "desc", "attribute": "name"}], limit=2)
    assert [r["values"]["name"][0]["value"] for r in desc] == ["golf", "foxtrot"]
    assert len(query(client, "companies")) == 7  # default limit is 500
    assert query(client, "companies", offset=7) == []
    error(
        client.post("/v2/objects/companies/records/query", json={"limit": 0}),
        400,
        "validation_type",
    )


# --- auto-created companies -----------------------------------------------------------------
def test_person_email_links_or_creates_the_company(
    client: httpx.Client, sandbox: AttioSandbox
) -> None:
    acme = ok(create(client, "companies", {"domains": ["acme.com"]}))
    a = ok(create(client, "people", {"email_addresses": ["a@acme.com"]}))
    assert a["values"]["company"][0]["target_record_id"] == acme["id"]["record_id"]
    b = ok(assert_record(client, "people", "email_addresses", {"email_addresses": ["b@newco.io"]}))
    newco = [
        r for r in sandbox.records("companies") if r["values"]["domains"][0]["domain"] == "newco.io"
    ]
    assert len(newco) == 1
    assert b["values"]["company"][0]["target_record_id"] == newco[0]["id"]["record_id"]
    free = ok(create(client, "people", {"email_addresses": ["c@gmail.com"]}))
    assert free["values"]["company"] == []
    sandbox.configure(auto_create_company_from_email=False)
    off = ok(create(client, "people", {"email_addresses": ["d@other.io"]}))
    assert off["values"]["company"] == []
    assert sandbox.stats()["records"]["companies"] == 2
