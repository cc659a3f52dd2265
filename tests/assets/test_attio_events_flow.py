"""Flow C end to end over real HTTP: signed Attio deliveries -> receiver -> attio_inbox_sensor ->
attio_events_job -> Attio and Slack sandboxes. A won deal is announced once and documented by one
note, however often it is delivered and however often the run is retried; merges and deletions
keep the id map on the surviving records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from revops_pipelines.definitions import defs
from revops_pipelines.sensors.inbox import release_run_batch
from revops_pipelines.services.company_sync.sync import SYNC_NAME
from revops_pipelines.store import inbox
from revops_pipelines.store.sync_records import load_record_ids, upsert
from revops_pipelines.store.tables import id_map, sync_state, webhook_digests, webhook_inbox
from tests.assets.attio_world import attio, attio_world, deliver
from tests.assets.inbox_runs import meta, run_sensor

WINS = "sales-wins"


@pytest.fixture
def world(slack_sandbox, attio_sandbox, db_url, dagster_instance, monkeypatch):  # type: ignore[no-untyped-def]
    with attio_world(slack_sandbox, attio_sandbox, db_url, dagster_instance, monkeypatch) as w:
        yield w


# --- helpers --------------------------------------------------------------------------------
def schema(world: dict[str, Any]) -> dict[str, str]:
    async def read(client: Any) -> dict[str, str]:
        objects = {o["api_slug"]: o["id"] for o in await client.workspace.objects()}
        attributes = {
            a["api_slug"]: a["id"]["attribute_id"]
            for a in await client.workspace.attributes("objects", "deals")
        }
        return {
            "workspace": objects["deals"]["workspace_id"],
            "deals": objects["deals"]["object_id"],
            "companies": objects["companies"]["object_id"],
            **{f"attr:{k}": v for k, v in attributes.items()},
        }

    return attio(world, read)


def create_deal(world: dict[str, Any], name: str, value: int, stage: str = "In Progress") -> str:
    member = world["attio"].members()[0]["id"]["workspace_member_id"]
    slug = "".join(c for c in name.lower() if c.isalnum())

    async def create(client: Any) -> str:
        company = await client.records.create(
            "companies", {"name": "Acme Rockets", "domains": [f"{slug}.example"]}
        )
        deal = await client.records.create(
            "deals",
            {
                "name": name,
                "stage": stage,
                "value": value,
                "associated_company": {
                    "target_object": "companies",
                    "target_record_id": company["id"]["record_id"],
                },
                "owner": {
                    "referenced_actor_type": "workspace-member",
                    "referenced_actor_id": member,
                },
            },
        )
        return deal["id"]["record_id"]

    return attio(world, create)


def set_stage(world: dict[str, Any], deal_id: str, stage: str) -> None:
    attio(world, lambda client: client.records.update("deals", deal_id, {"stage": stage}))


def event(
    ids: dict[str, str], event_type: str, record_id: str, attribute: str | None = None, **extra: Any
) -> dict[str, Any]:
    target = {"workspace_id": ids["workspace"], "object_id": ids["deals"], "record_id": record_id}
    if attribute:
        target["attribute_id"] = attribute
    actor = extra.pop("actor", {"type": "workspace-member", "id": "member-1"})
    return {"event_type": event_type, "id": target, "actor": actor, **extra}


def run_backlog(world: dict[str, Any]) -> dg.ExecuteInProcessResult:
    """A manual run over every pending row (a retried run of the same batch)."""
    job = defs.resolve_job_def("attio_events_job")
    config = {"ops": {"attio_events": {"config": {"inbox_ids": [], "limit": 100}}}}
    return job.execute_in_process(
        run_config=config, instance=world["instance"], resources=world["resources"]
    )


def deal_notes(world: dict[str, Any], deal_id: str) -> list[dict[str, Any]]:
    return [n for n in world["attio"].notes() if n["parent_record_id"] == deal_id]


# --- tests ----------------------------------------------------------------------------------
def test_a_won_deal_posts_once_and_writes_one_note_under_redelivery_and_retried_runs(
    world,  # type: ignore[no-untyped-def]
) -> None:
    ids = schema(world)
    deal = create_deal(world, "Rocket fuel <2026>", 125000)
    set_stage(world, deal, "Won 🎉")
    stage, value = ids["attr:stage"], ids["attr:value"]
    # One change: a per-attribute burst, its system echo, and Attio delivering it three times.
    assert deliver(world, "k-stage", event(ids, "record.updated", deal, stage)) in (200, 202)
    assert deliver(world, "k-stage", event(ids, "record.updated", deal, stage)) == 200
    assert deliver(world, "k-stage", event(ids, "record.updated", deal, stage)) == 200
    deliver(
        world,
        "k-burst",
        event(ids, "record.updated", deal, value),
        event(ids, "record.updated", deal, stage, actor={"type": "system", "id": None}),
    )
    [first] = run_sensor(world)
    assert first.success
    m = meta(first)
    assert (m["records_fetched"], m["notifications_sent"], m["handled"]) == (1, 1, 1)
    [message] = world["slack"].messages(WINS)
    assert "Rocket fuel &lt;2026&gt;" in message["text"] and "$125,000" in message["text"]
    fields = " ".join(f["text"] for f in message["blocks"][1]["fields"])
    assert "$125,000" in fields and "Acme Rockets" in fields and "Owner" in fields
    [note] = deal_notes(world, deal)
    assert note["title"].startswith("Notification sent: deal won")
    assert "#sales-wins" in note["content_plaintext"] and message["ts"] in note["content_plaintext"]

    # The same change under a new key (a later echo, or a replay of the captured body): a
    # duplicate at the door within the replay window (issue 15), so no run and nothing new.
    assert deliver(world, "k-echo", event(ids, "record.updated", deal, stage)) == 200
    assert run_sensor(world) == []
    # The whole run retried over the same rows (processed again from pending): nothing new.
    with world["engine"].begin() as connection:
        connection.execute(
            sa.update(webhook_inbox)
            .where(webhook_inbox.c.source == "attio")
            .values(status="pending", claimed_by=None, claimed_at=None, processed_at=None)
        )
    retried = run_backlog(world)
    assert retried.success and meta(retried)["deliveries"] == 2
    assert meta(retried)["notifications_sent"] == 0
    assert len(world["slack"].messages(WINS)) == 1 and len(deal_notes(world, deal)) == 1

    # Reopened and won again, after the replay window (its identical body is then a new event):
    # a new transition, announced once more.
    with world["engine"].begin() as connection:
        connection.execute(
            sa.update(webhook_digests).values(seen_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    set_stage(world, deal, "In Progress")
    set_stage(world, deal, "Won 🎉")
    deliver(world, "k-rewon", event(ids, "record.updated", deal, stage))
    [rewon] = run_sensor(world)
    assert rewon.success and meta(rewon)["notifications_sent"] == 1
    assert len(world["slack"].messages(WINS)) == 2 and len(deal_notes(world, deal)) == 2


def test_a_run_that_failed_after_posting_is_retried_without_posting_again(world) -> None:  # type: ignore[no-untyped-def]
    ids = schema(world)
    deal = create_deal(world, "Launch pad", 40000)
    set_stage(world, deal, "Won 🎉")
    deliver(world, "k-1", event(ids, "record.updated", deal, ids["attr:stage"]))
    world["attio"].faults.configure(
        {"rate": 1.0, "kinds": ["500"], "methods": ["POST"], "path": "notes$", "seed": 1}
    )
    try:
        [failed] = run_sensor(world)
    finally:
        world["attio"].faults.clear()
    assert not failed.success
    assert len(world["slack"].messages(WINS)) == 1 and deal_notes(world, deal) == []
    # What inbox_run_failure_sensor does with a failed run's rows.
    run = world["instance"].get_run_by_id(failed.run_id)
    release_run_batch(world["engine"], run, "failed: test")
    [retried] = run_sensor(world)
    assert retried.success
    assert len(world["slack"].messages(WINS)) == 1 and len(deal_notes(world, deal)) == 1
    assert inbox.count_by_status(world["engine"], ["attio"])["done"] == 1


def test_a_big_new_deal_is_announced_and_a_small_one_or_other_updates_are_not(world) -> None:  # type: ignore[no-untyped-def]
    ids = schema(world)
    big = create_deal(world, "Mega rocket", 250000)
    small = create_deal(world, "Small rocket", 5000)
    deliver(
        world,
        "k-created",
        event(ids, "record.created", big),
        event(ids, "record.updated", big, ids["attr:name"]),
        event(ids, "record.created", small),
    )
    deliver(world, "k-small-name", event(ids, "record.updated", small, ids["attr:name"]))
    [result] = run_sensor(world)
    assert result.success
    m = meta(result)
    assert (m["records_fetched"], m["notifications_sent"]) == (2, 1)  # one fetch per record
    [message] = world["slack"].messages(WINS)
    assert message["text"].startswith("Deal created: Mega rocket ($250,000)")
    assert len(deal_notes(world, big)) == 1 and deal_notes(world, small) == []


def _seed_id_map(engine: sa.Engine, rows: dict[str, str]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        upsert(
            connection,
            id_map,
            [
                {
                    "system": "salesforce",
                    "external_object": "Account",
                    "external_id": account,
                    "attio_object": "companies",
                    "attio_record_id": record,
                    "created_at": now,
                    "updated_at": now,
                }
                for account, record in rows.items()
            ],
            keys=("system", "external_object", "external_id"),
        )


def test_merges_repoint_and_deletions_drop_id_map_rows_and_unknown_types_are_skipped(
    world,  # type: ignore[no-untyped-def]
) -> None:
    ids = schema(world)
    ids["deals"] = ids["companies"]  # these events are about companies
    engine = world["engine"]
    _seed_id_map(engine, {"001A": "rec-a", "001B": "rec-b", "001C": "rec-c", "001D": "rec-d"})
    with engine.begin() as connection:
        connection.execute(
            sync_state.insert(),
            [
                {
                    "sync_name": SYNC_NAME,
                    "source_id": account,
                    "status": "ok",
                    "attio_record_id": record,
                    "synced_at": datetime.now(UTC),
                }
                for account, record in (("001A", "rec-a"), ("001D", "rec-d"))
            ],
        )
    merged_a = event(ids, "record.merged", "rec-new", duplicate_record_id="rec-a")
    merged_b = event(ids, "record.merged", "rec-new", duplicate_record_id="rec-b")
    for extra in (merged_a, merged_b):
        extra["duplicate_object_id"] = ids["companies"]
    deliver(world, "k-merge-a", merged_a)
    deliver(world, "k-merge-b", merged_b)
    deliver(world, "k-merge-b-again", merged_b)  # redelivered under a new key
    deliver(world, "k-deleted", event(ids, "record.deleted", "rec-c"))
    deliver(world, "k-call", {**event(ids, "call-recording.created", "rec-d"), "call_id": "c1"})
    deliver(
        world,
        "k-entry",
        {
            "event_type": "list-entry.created",
            "id": {"workspace_id": ids["workspace"], "list_id": "l1", "entry_id": "e1"},
        },
    )
    [result] = run_sensor(world)
    assert result.success
    m = meta(result)
    assert (m["id_map_repointed"], m["id_map_forgotten"]) == (2, 1)
    assert (m["handled"], m["skipped_unknown"]) == (4, 1)
    assert "call-recording.created" in m["skipped_unknown_types"]
    with engine.connect() as connection:
        found = load_record_ids(
            connection, "salesforce", "Account", ["001A", "001B", "001C", "001D"]
        )
    assert found == {"001A": "rec-new", "001B": "rec-new", "001D": "rec-d"}
    with engine.connect() as connection:
        query = sa.select(sync_state.c.source_id, sync_state.c.attio_record_id)
        state = {source: record for source, record in connection.execute(query)}
    assert state == {"001A": "rec-new", "001D": "rec-d"}
