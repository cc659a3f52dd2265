"""The Attio caches over real HTTP: the schema cache spares requests within its TTL and is cleared
by set-up; the record cache (in memory, and in the machine's Redis) is kept coherent with the
client's own writes and evicted by Attio's `record.updated` webhooks through the real job."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import httpx
import pytest
import redis

from revops_pipelines.definitions import defs
from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.domain.config_checks import list_problems, routing_problems
from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.slack import SlackResource
from revops_pipelines.sensors.inbox import attio_inbox_sensor
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.server import serve_in_thread
from tests.webhooks.helpers import sign

REDIS_URL = "redis://127.0.0.1:6379/14"
SECRET = "cache-test-secret"


def requests_to(sandbox: Any, template: str) -> int:
    return int(sandbox.stats()["requests"].get(template, 0))


def resource(sandbox: Any, **caches: Any) -> AttioResource:
    return AttioResource(
        api_key="sandbox-attio-key",
        base_url=sandbox.api_url,
        max_attempts=2,
        max_total_wait_seconds=0.5,
        **caches,
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The caches are process-wide per credential: start each test with none."""
    from revops_pipelines.infra.cache import reset_caches

    reset_caches()
    yield
    reset_caches()


def test_the_schema_cache_spares_requests_until_its_ttl_and_setup_clears_it(
    attio_sandbox, fresh_caches
) -> None:  # type: ignore[no-untyped-def]
    attio = resource(attio_sandbox, schema_cache_ttl_seconds=0.5)
    template = "GET /v2/{target}/{identifier}/attributes"

    async def read_twice() -> list[dict[str, Any]]:
        async with attio.client() as client:
            await client.workspace.attributes("objects", "companies")
            return await client.workspace.attributes("objects", "companies")

    before = requests_to(attio_sandbox, template)
    snapshot = attio.cache_snapshot()
    attributes = run(read_twice())
    assert any(a["api_slug"] == "industry" for a in attributes)
    assert requests_to(attio_sandbox, template) == before + 1  # the second read was cached
    meta = attio.cache_metadata(snapshot)
    assert (meta["schema_cache_hits"], meta["schema_cache_misses"]) == (1, 1)
    assert meta["schema_cache_hit_rate"] == 0.5

    run(read_twice())  # a new client of the same credential shares the cache
    assert requests_to(attio_sandbox, template) == before + 1
    time.sleep(0.6)
    run(read_twice())  # past the TTL: read afresh once
    assert requests_to(attio_sandbox, template) == before + 2

    async def create_then_read() -> list[dict[str, Any]]:
        async with attio.client() as client:
            await client.workspace.create_attribute(
                "objects",
                "companies",
                {
                    "title": "Tier",
                    "api_slug": "tier",
                    "type": "text",
                    "description": None,
                    "is_required": False,
                    "is_unique": False,
                    "is_multiselect": False,
                    "config": {},
                },
            )
            return await client.workspace.attributes("objects", "companies")

    after_create = run(create_then_read())
    assert any(a["api_slug"] == "tier" for a in after_create)  # not the cached list


def test_a_redis_schema_cache_carries_over_to_a_new_process(attio_sandbox, fresh_caches) -> None:  # type: ignore[no-untyped-def]
    from revops_pipelines.infra.cache import reset_caches

    template = "GET /v2/{target}/{identifier}/attributes"

    def new_process_reads() -> AttioResource:
        reset_caches()  # what a new step process starts with: nothing in memory
        attio = resource(attio_sandbox, schema_cache_ttl_seconds=60, redis_url=REDIS_URL)

        async def read() -> None:
            async with attio.client() as client:
                await client.workspace.attributes("objects", "people")

        run(read())
        return attio

    try:
        before = requests_to(attio_sandbox, template)
        first = new_process_reads()
        assert first.schema_cache().stats.misses == 1
        second = new_process_reads()
        assert (second.schema_cache().stats.hits, second.schema_cache().stats.misses) == (1, 0)
        assert requests_to(attio_sandbox, template) == before + 1
        second.schema_cache().clear()  # what set-up does after creating something
        third = new_process_reads()
        assert third.schema_cache().stats.misses == 1
        assert requests_to(attio_sandbox, template) == before + 2
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter("revops:attio:*"):
            client.delete(key)


def test_without_a_ttl_nothing_is_cached(attio_sandbox, fresh_caches) -> None:  # type: ignore[no-untyped-def]
    attio = resource(attio_sandbox)

    async def read_twice() -> None:
        async with attio.client() as client:
            await client.workspace.objects()
            await client.workspace.objects()

    before = requests_to(attio_sandbox, "GET /v2/objects")
    run(read_twice())
    assert requests_to(attio_sandbox, "GET /v2/objects") == before + 2


# --- the record cache, in memory and in Redis ----------------------------------------------
@pytest.fixture(params=["memory", "redis"])
def record_caching(request, attio_sandbox, fresh_caches) -> Iterator[AttioResource]:  # type: ignore[no-untyped-def]
    redis_url = REDIS_URL if request.param == "redis" else None
    # A TTL far beyond a test's length: an entry gone must be an eviction, never an expiry.
    attio = resource(attio_sandbox, record_cache_ttl_seconds=3600, redis_url=redis_url)
    yield attio
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter("revops:attio:*"):
            client.delete(key)


def test_records_are_cached_and_kept_coherent_with_our_writes(
    record_caching, attio_sandbox
) -> None:  # type: ignore[no-untyped-def]
    attio = record_caching
    template = "GET /v2/objects/{object}/records/{record_id}"

    async def flow() -> tuple[str, dict[str, Any]]:
        async with attio.client() as client:
            made = await client.records.create("companies", {"name": "Cached Co"})
            rid = made["id"]["record_id"]
            await client.records.get("companies", rid)  # put there by the create
            await client.records.update("companies", rid, {"name": "Renamed Co"})
            return rid, await client.records.get("companies", rid)

    before = requests_to(attio_sandbox, template)
    rid, record = run(flow())
    assert first_value(record, "name") == "Renamed Co"  # our own write, not a stale copy
    assert requests_to(attio_sandbox, template) == before  # both reads came from the cache
    assert attio.record_cache().backend == ("redis" if attio.redis_url else "memory")
    assert attio.record_cache().get(rid) is not None


def test_a_record_updated_webhook_evicts_the_cached_record(
    record_caching, attio_sandbox, db_url, dagster_instance
) -> None:  # type: ignore[no-untyped-def]
    attio = record_caching

    async def create_and_read() -> str:
        async with attio.client() as client:
            made = await client.records.create("companies", {"name": "Before Co"})
            rid = made["id"]["record_id"]
            await client.records.get("companies", rid)
            return rid

    rid = run(create_and_read())
    position = len(attio_sandbox.webhook_events())
    member = attio_sandbox.members()[0]["id"]["workspace_member_id"]
    attio_sandbox.edit_as_member("companies", rid, {"name": "After Co"}, member)

    async def read() -> dict[str, Any]:
        async with attio.client() as client:
            return await client.records.get("companies", rid)

    assert first_value(run(read()), "name") == "Before Co"  # stale until Attio tells us

    settings = ReceiverSettings(database_url=db_url, secrets={"attio": SECRET})
    with serve_in_thread(create_app(settings)) as receiver:
        for i, event in enumerate(attio_sandbox.webhook_events(position)):
            body = json.dumps({"webhook_id": "wh-cache", "events": [event]}).encode()
            headers = {"Attio-Signature": sign("attio", SECRET, body), "Idempotency-Key": f"c-{i}"}
            response = httpx.post(f"{receiver.url}/webhooks/attio", content=body, headers=headers)
            assert response.status_code == 202
    database = RevopsDatabase(url=db_url)
    context = dg.build_sensor_context(
        instance=dagster_instance, resources={"database": database}, definitions=defs
    )
    job = defs.resolve_job_def("attio_events_job")
    resources = {
        "database": database,
        "attio": attio,
        "slack": SlackResource(),
        "salesforce": SalesforceResource(),
    }
    [request] = attio_inbox_sensor(context).run_requests or []
    assert attio.record_cache().get(rid) is not None, "the cached copy went before the run"
    result = job.execute_in_process(
        run_config=request.run_config,
        instance=dagster_instance,
        tags=request.tags,
        resources=resources,
    )
    [materialization] = result.asset_materializations_for_node("attio_events")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["record_cache_evicted_by_webhooks"] == 1, meta
    assert meta["record_cache_errors"] == 0, meta
    assert meta["record_cache"] == ("redis" if attio.redis_url else "memory")
    assert attio.record_cache().get(rid) is None  # evicted
    assert first_value(run(read()), "name") == "After Co"  # read afresh


def test_an_unreachable_redis_is_a_miss_not_a_failure(attio_sandbox, fresh_caches) -> None:  # type: ignore[no-untyped-def]
    attio = resource(attio_sandbox, record_cache_ttl_seconds=60, redis_url="redis://127.0.0.1:1/0")

    async def flow() -> dict[str, Any]:
        async with attio.client() as client:
            made = await client.records.create("companies", {"name": "No Redis Co"})
            return await client.records.get("companies", made["id"]["record_id"])

    assert first_value(run(flow()), "name") == "No Redis Co"
    assert attio.record_cache().stats.errors >= 2


# --- the lead files against the workspace (pure) --------------------------------------------
def test_routing_and_lists_are_checked_against_the_workspace() -> None:
    from revops_pipelines.assets.leads import LISTS, ROUTING

    members = [
        {"email_address": rep.email.upper(), "access_level": "member"} for rep in ROUTING.reps
    ]
    lists = [{"api_slug": slug} for slug in LISTS.slugs]
    assert routing_problems(ROUTING, members) == []
    assert list_problems(LISTS, lists) == []
    first, second = ROUTING.reps[0].email, ROUTING.reps[1].email
    changed = [
        {**m, "access_level": "suspended"} if m["email_address"].lower() == second else m
        for m in members
        if m["email_address"].lower() != first
    ]
    assert routing_problems(ROUTING, changed) == [
        f"routing.yaml: rep {first} is not a member of the Attio workspace",
        f"routing.yaml: rep {second} is suspended in Attio",
    ]
    missing = sorted(LISTS.slugs)[0]
    assert list_problems(LISTS, [x for x in lists if x["api_slug"] != missing]) == [
        f"lists.yaml: list {missing!r} does not exist in Attio (run `revops attio setup`)"
    ]
