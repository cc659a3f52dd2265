"""The Attio sandbox's schema discovery, schema set-up, list entries, notes and tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from revops_pipelines.domain.attio_schema import DEFAULT_INDUSTRIES
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread
from tests.sandbox import attio_helpers as h
from tests.sandbox.attio_helpers import API_KEY, create, error, ok

SIX_TASK_KEYS = ("content", "format", "deadline_at", "is_completed", "linked_records", "assignees")

sandbox, server, client = h.sandbox, h.server, h.client


# --- discovery ------------------------------------------------------------------------------
def test_objects_attributes_options_and_statuses(client: httpx.Client) -> None:
    objects = ok(client.get("/v2/objects"))
    assert [o["api_slug"] for o in objects] == ["companies", "people", "deals"]
    assert set(objects[0]) == {"id", "api_slug", "singular_noun", "plural_noun", "created_at"}
    people = ok(client.get(f"/v2/objects/{objects[1]['id']['object_id']}"))
    assert people["api_slug"] == "people" and people["singular_noun"] == "Person"
    attrs = {a["api_slug"]: a for a in ok(client.get("/v2/objects/companies/attributes"))}
    for slug in (
        "name",
        "domains",
        "description",
        "salesforce_id",
        "industry",
        "employee_count",
        "annual_revenue",
        "primary_location",
    ):
        assert slug in attrs, slug
    assert attrs["domains"]["is_unique"] and attrs["domains"]["is_multiselect"]
    assert attrs["record_id"]["is_writable"] is False
    assert attrs["annual_revenue"]["config"]["currency"]["default_currency_code"] == "USD"
    assert attrs["salesforce_id"]["is_system_attribute"] is False
    assert set(attrs["name"]) >= {
        "id",
        "title",
        "description",
        "api_slug",
        "type",
        "is_system_attribute",
        "is_writable",
        "is_required",
        "is_unique",
        "is_multiselect",
        "is_default_value_enabled",
        "is_archived",
        "default_value",
        "relationship",
        "created_at",
        "config",
    }
    company = ok(client.get("/v2/objects/people/attributes/company"))
    assert company["relationship"]["api_slug"] == "team"
    assert company["config"]["record_reference"]["allowed_object_ids"] == [
        objects[0]["id"]["object_id"]
    ]
    options = ok(client.get("/v2/objects/companies/attributes/industry/options"))
    assert set(DEFAULT_INDUSTRIES) <= {o["title"] for o in options}
    assert set(options[0]["id"]) == {"workspace_id", "object_id", "attribute_id", "option_id"}
    statuses = ok(client.get("/v2/objects/deals/attributes/stage/statuses"))
    assert [s["title"] for s in statuses] == ["Lead", "In Progress", "Won 🎉", "Lost"]
    assert {"celebration_enabled", "target_time_in_status", "is_archived"} <= set(statuses[0])
    lists = {x["api_slug"]: x for x in ok(client.get("/v2/lists"))}
    assert {k: v["parent_object"] for k, v in lists.items()} == {
        "inbound_leads": ["people"],
        "enterprise_pipeline": ["people"],
        "partner_leads": ["people"],
        "sales_pipeline": ["companies"],
    }
    members = ok(client.get("/v2/workspace_members"))
    assert len(members) == 8
    one = ok(client.get(f"/v2/workspace_members/{members[1]['id']['workspace_member_id']}"))
    assert one["email_address"] == members[1]["email_address"]
    body = error(client.get("/v2/objects/widgets/attributes"), 404, "not_found")
    assert body["message"] == 'Object with slug/ID "widgets" not found.'
    body = error(client.get("/v2/lists/nope"), 404, "not_found")
    assert body["message"] == 'Could not find list with slug/ID "nope".'


@pytest.fixture
def standard_client() -> Iterator[tuple[AttioSandbox, httpx.Client]]:
    sb = AttioSandbox(api_keys=(API_KEY,), schema="standard", write_rate=None, read_rate=None)
    with serve_in_thread(sb.app) as server:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=server.url, headers=headers) as c:
            yield sb, c


def test_standard_schema_can_be_set_up_through_the_api(
    standard_client: tuple[AttioSandbox, httpx.Client],
) -> None:
    sb, client = standard_client
    slugs = {a["api_slug"] for a in ok(client.get("/v2/objects/companies/attributes"))}
    assert "domains" in slugs and not slugs & {"salesforce_id", "industry", "annual_revenue"}
    assert ok(client.get("/v2/lists")) == []
    body = {
        "title": "Industry",
        "description": None,
        "api_slug": "industry",
        "type": "select",
        "is_required": False,
        "is_unique": False,
        "is_multiselect": False,
        "config": {},
    }
    made = ok(client.post("/v2/objects/companies/attributes", json={"data": body}))
    assert made["api_slug"] == "industry" and made["type"] == "select"
    assert made["is_system_attribute"] is False
    error(
        client.post("/v2/objects/companies/attributes", json={"data": body}), 409, "slug_conflict"
    )
    unique = {**body, "api_slug": "sf_id", "type": "text", "is_unique": True}
    error(
        client.post("/v2/objects/companies/attributes", json={"data": unique}),
        400,
        "validation_type",
    )
    incomplete = error(
        client.post("/v2/objects/companies/attributes", json={"data": {}}), 400, "validation_type"
    )
    assert ["data", "api_slug"] in [e["path"] for e in incomplete["validation_errors"]]
    option = ok(
        client.post(
            "/v2/objects/companies/attributes/industry/options",
            json={"data": {"title": "Technology"}},
        )
    )
    assert option["title"] == "Technology" and option["is_archived"] is False
    error(
        client.post(
            "/v2/objects/companies/attributes/industry/options",
            json={"data": {"title": "Technology"}},
        ),
        409,
        "slug_conflict",
    )
    revenue = {
        **body,
        "api_slug": "annual_revenue",
        "type": "currency",
        "config": {"currency": {"default_currency_code": "EUR", "display_type": "code"}},
    }
    ok(client.post("/v2/objects/companies/attributes", json={"data": revenue}))
    record = ok(
        create(
            client,
            "companies",
            {"domains": ["a.com"], "industry": "Technology", "annual_revenue": 10},
        )
    )
    assert record["values"]["industry"][0]["option"]["title"] == "Technology"
    assert record["values"]["annual_revenue"][0]["currency_code"] == "EUR"
    new_list = {
        "name": "Inbound leads",
        "api_slug": "inbound_leads",
        "parent_object": "people",
        "workspace_access": "full-access",
        "workspace_member_access": [],
    }
    lst = ok(client.post("/v2/lists", json={"data": new_list}))
    assert lst["parent_object"] == ["people"] and lst["api_slug"] == "inbound_leads"
    assert lst["created_by_actor"] == {"type": "api-token", "id": sb.token_id(API_KEY)}
    error(client.post("/v2/lists", json={"data": new_list}), 409, "slug_conflict")


# --- list entries ---------------------------------------------------------------------------
def entry_body(record_id: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "data": {
            "parent_record_id": record_id,
            "parent_object": "people",
            "entry_values": values or {},
        }
    }


def test_entry_assert_by_parent(client: httpx.Client, sandbox: AttioSandbox) -> None:
    rid = ok(create(client, "people", {"email_addresses": ["lead@acme.com"]}))["id"]["record_id"]
    url = "/v2/lists/inbound_leads/entries"
    first = ok(client.put(url, json=entry_body(rid, {"tags": ["Hot", "Warm"]})))
    second = ok(client.put(url, json=entry_body(rid, {"tags": ["Cold"]})))
    assert second["id"]["entry_id"] == first["id"]["entry_id"]
    assert [t["option"]["title"] for t in second["entry_values"]["tags"]] == ["Cold"]
    assert second["parent_record_id"] == rid and second["parent_object"] == "people"
    assert len(sandbox.entries("inbound_leads")) == 1
    ok(client.post(url, json=entry_body(rid)))  # several entries per parent are allowed
    body = error(client.put(url, json=entry_body(rid)), 400, "multiple_match_results")
    assert body["message"].startswith("Multiple entries were found")
    assert len(sandbox.entries("inbound_leads")) == 2


def test_entry_rules(client: httpx.Client, sandbox: AttioSandbox) -> None:
    rid = ok(create(client, "people", {"email_addresses": ["p@acme.com"]}))["id"]["record_id"]
    missing = "00000000-0000-4000-8000-000000000000"
    body = error(
        client.post("/v2/lists/inbound_leads/entries", json=entry_body(missing)),
        400,
        "value_not_found",
    )
    assert body["message"] == f'Parent record with slug/ID "{missing}" not found.'
    error(client.post("/v2/lists/nope/entries", json=entry_body(rid)), 404, "not_found")
    entry = ok(
        client.post("/v2/lists/inbound_leads/entries", json=entry_body(rid, {"tags": ["Hot"]}))
    )
    url = f"/v2/lists/inbound_leads/entries/{entry['id']['entry_id']}"
    error(
        client.patch(url, json={"data": {"parent_record_id": rid, "entry_values": {}}}),
        400,
        "immutable_value",
    )
    patched = ok(client.patch(url, json={"data": {"entry_values": {"tags": ["Warm"]}}}))
    assert [t["option"]["title"] for t in patched["entry_values"]["tags"]] == ["Warm", "Hot"]
    found = ok(
        client.post("/v2/lists/inbound_leads/entries/query", json={"filter": {"tags": "Warm"}})
    )
    assert [e["id"]["entry_id"] for e in found] == [entry["id"]["entry_id"]]
    assert ok(client.get(f"/v2/objects/people/records/{rid}/entries"))[0]["list_api_slug"] == (
        "inbound_leads"
    )
    assert client.delete(url).json() == {}
    assert sandbox.entries("inbound_leads") == []


# --- notes ----------------------------------------------------------------------------------
def test_notes(client: httpx.Client, sandbox: AttioSandbox) -> None:
    rid = ok(create(client, "people", {"email_addresses": ["n@acme.com"]}))["id"]["record_id"]
    note = {
        "parent_object": "people",
        "parent_record_id": rid,
        "title": "Audit",
        "format": "markdown",
        "content": "# Steps\n**asserted** person",
    }
    made = ok(client.post("/v2/notes", json={"data": note}))
    assert made["content_markdown"] == note["content"]
    assert made["content_plaintext"] == "Steps\nasserted person"
    assert made["created_by_actor"] == {"type": "api-token", "id": sandbox.token_id(API_KEY)}
    assert set(made["id"]) == {"workspace_id", "note_id"}
    for i in range(11):
        ok(client.post("/v2/notes", json={"data": {**note, "title": f"n{i}"}}))
    listed = ok(
        client.get("/v2/notes", params={"parent_object": "people", "parent_record_id": rid})
    )
    assert len(listed) == 10  # the default limit
    assert len(ok(client.get("/v2/notes", params={"limit": 50}))) == 12
    error(client.get("/v2/notes", params={"limit": 51}), 400, "validation_type")
    no_title = {k: v for k, v in note.items() if k != "title"}
    body = error(client.post("/v2/notes", json={"data": no_title}), 400, "validation_type")
    assert body["validation_errors"][0]["path"] == ["data", "title"]
    url = f"/v2/notes/{made['id']['note_id']}"
    assert ok(client.get(url))["title"] == "Audit"
    error(client.patch(url, json={"data": {"title": "x"}}), 404, "not_found")  # no update
    assert client.delete(url).json() == {}
    error(client.get(url), 404, "not_found")
    assert len(sandbox.notes()) == 11


# --- tasks ----------------------------------------------------------------------------------
def task_body(rid: str, **overrides: Any) -> dict[str, Any]:
    data = {
        "content": "Follow up with the lead",
        "format": "plaintext",
        "deadline_at": "2026-12-01T09:00:00+01:00",
        "is_completed": False,
        "linked_records": [{"target_object": "people", "target_record_id": rid}],
        "assignees": [{"workspace_member_email_address": "liam.chen@northwindsales.io"}],
    }
    return {"data": {**data, **overrides}}


@pytest.mark.parametrize("missing", SIX_TASK_KEYS)
def test_task_needs_all_six_keys(client: httpx.Client, sandbox: AttioSandbox, missing: str) -> None:
    rid = ok(create(client, "people", {"email_addresses": ["t@acme.com"]}))["id"]["record_id"]
    body = task_body(rid)
    del body["data"][missing]
    response = error(client.post("/v2/tasks", json=body), 400, "validation_type")
    assert response["validation_errors"][0]["path"] == ["data", missing]
    assert sandbox.tasks() == []


def test_tasks(client: httpx.Client, sandbox: AttioSandbox) -> None:
    person = ok(create(client, "people", {"email_addresses": ["t@acme.com"]}))
    rid = person["id"]["record_id"]
    error(client.post("/v2/tasks", json=task_body(rid, content="x" * 2001)), 400, "validation_type")
    error(client.post("/v2/tasks", json=task_body(rid, format="markdown")), 400, "validation_type")
    error(client.post("/v2/tasks", json=task_body(rid, title="x")), 400, "validation_type")
    bad_link = task_body(
        rid, linked_records=[{"target_object": "inbound_leads", "target_record_id": rid}]
    )
    body = error(client.post("/v2/tasks", json=bad_link), 400, "validation_type")
    assert "Only standard or custom object records can be linked to." in str(body)
    task = ok(client.post("/v2/tasks", json=task_body(rid)))
    assert task["content_plaintext"] == "Follow up with the lead"
    assert task["deadline_at"] == "2026-12-01T08:00:00.000000000Z"
    assert task["linked_records"] == [
        {"target_object_id": person["id"]["object_id"], "target_record_id": rid}
    ]
    assert task["assignees"][0]["referenced_actor_type"] == "workspace-member"
    undated = ok(client.post("/v2/tasks", json=task_body(rid, deadline_at=None, assignees=[])))
    assert undated["deadline_at"] is None
    url = f"/v2/tasks/{task['id']['task_id']}"
    error(client.patch(url, json={"data": {"content": "new"}}), 400, "validation_type")
    done = ok(client.patch(url, json={"data": {"is_completed": True}}))
    assert done["is_completed"] is True and done["content_plaintext"] == task["content_plaintext"]
    open_tasks = ok(client.get("/v2/tasks", params={"is_completed": "false"}))
    assert [t["id"]["task_id"] for t in open_tasks] == [undated["id"]["task_id"]]
    by_link = ok(
        client.get("/v2/tasks", params={"linked_object": "people", "linked_record_id": rid})
    )
    assert len(by_link) == 2
    mine = ok(client.get("/v2/tasks", params={"assignee": "liam.chen@northwindsales.io"}))
    assert [t["id"]["task_id"] for t in mine] == [task["id"]["task_id"]]
    newest = ok(client.get("/v2/tasks", params={"sort": "created_at:desc", "limit": 1}))
    assert newest[0]["id"]["task_id"] == undated["id"]["task_id"]
    assert client.delete(url).json() == {}
    assert len(sandbox.tasks()) == 1
