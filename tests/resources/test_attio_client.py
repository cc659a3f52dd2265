"""The Attio client against the Attio sandbox over real HTTP."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.resources.attio import AttioConfigError, AttioError, RetrySettings
from tests.resources.attio_helpers import RecordingTransport, admin, connect


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def company_values(domain: str, name: str) -> dict[str, Any]:
    return {"domains": [domain], "name": name}


def test_assert_twice_leaves_one_record(attio_sandbox: Any) -> None:
    async def scenario() -> tuple[dict, dict, list]:
        async with connect(attio_sandbox) as attio:
            first = await attio.records.assert_record(
                "companies", matching_attribute="domains", values=company_values("acme.com", "Acme")
            )
            second = await attio.records.assert_record(
                "companies",
                matching_attribute="domains",
                values=company_values("acme.com", "Acme Inc"),
            )
            found = await attio.records.query_all("companies", filter={"domains": "acme.com"})
            return first, second, found

    first, second, found = run(scenario())
    assert record_id(first) == record_id(second)
    assert len(found) == 1
    assert first_value(found[0], "name") == "Acme Inc"
    assert first_value(found[0], "domains", "root_domain") == "acme.com"


def test_create_on_a_taken_domain_surfaces_the_uniqueness_error(attio_sandbox: Any) -> None:
    async def scenario() -> AttioError:
        async with connect(attio_sandbox) as attio:
            await attio.records.create("companies", company_values("taken.io", "Taken"))
            with pytest.raises(AttioError) as caught:
                await attio.records.create("companies", company_values("taken.io", "Again"))
            assert (
                len(await attio.records.query_all("companies", filter={"domains": "taken.io"})) == 1
            )
            return caught.value

    error = run(scenario())
    assert error.status_code == 400
    assert error.code == "uniqueness_conflict"
    assert "conflicts with one already in the system" in error.message
    assert error.attempts == 1


def test_validation_errors_carry_attios_message_and_path(attio_sandbox: Any) -> None:
    async def scenario() -> tuple[AttioError, AttioError]:
        async with connect(attio_sandbox) as attio:
            with pytest.raises(AttioError) as bare_domain:
                await attio.records.assert_record(
                    "companies", matching_attribute="domains", values={"domains": "acme.com"}
                )
            with pytest.raises(AttioError) as unknown_option:
                await attio.records.assert_record(
                    "companies",
                    matching_attribute="domains",
                    values={"domains": ["acme.com"], "industry": "Underwater Basket Weaving"},
                )
            return bare_domain.value, unknown_option.value

    bare_domain, unknown_option = run(scenario())
    assert bare_domain.code == "validation_type"
    assert bare_domain.validation_errors, "the validation details must reach the caller"
    assert "domains" in str(bare_domain)
    assert "Expected array" in str(bare_domain)
    assert unknown_option.code == "value_not_found"
    assert "Underwater Basket Weaving" in str(unknown_option)


def test_non_unique_matching_attribute_is_refused(attio_sandbox: Any) -> None:
    async def scenario() -> AttioError:
        async with connect(attio_sandbox) as attio:
            with pytest.raises(AttioError) as caught:
                await attio.records.assert_record(
                    "companies", matching_attribute="name", values={"name": "Acme"}
                )
            return caught.value

    assert run(scenario()).code == "matching_attribute_definition_not_unique"


def test_paging_reads_every_record_across_pages(attio_sandbox: Any) -> None:
    recorder = RecordingTransport()

    async def scenario() -> list[dict]:
        async with connect(attio_sandbox, http_transport=recorder) as attio:
            await asyncio.gather(
                *(
                    attio.records.assert_record(
                        "companies",
                        matching_attribute="domains",
                        values=company_values(f"page{i}.example", f"Page {i}"),
                    )
                    for i in range(23)
                )
            )
            return await attio.records.query_all(
                "companies", filter={"domains": {"domain": {"$ends_with": ".example"}}}, page_size=5
            )

    found = run(scenario())
    assert sorted(first_value(r, "name") for r in found) == sorted(f"Page {i}" for i in range(23))
    queries = [e for e in recorder.exchanges if e.path.endswith("/query")]
    assert len(queries) == 5  # 5 + 5 + 5 + 5 + 3


def test_429_waits_until_the_http_date_in_retry_after(attio_sandbox: Any) -> None:
    admin(attio_sandbox, "POST", "config", json={"write_rate": 2.0})
    recorder = RecordingTransport()

    async def scenario() -> list[dict]:
        # The client believes it may write 100/s; the sandbox allows 2/s and answers 429.
        async with connect(attio_sandbox, write_rate=100.0, http_transport=recorder) as attio:
            return await asyncio.gather(
                *(
                    attio.records.assert_record(
                        "companies",
                        matching_attribute="domains",
                        values=company_values(f"limit{i}.example", f"L{i}"),
                    )
                    for i in range(6)
                )
            )

    results = run(scenario())
    assert len({record_id(r) for r in results}) == 6
    limited = [e for e in recorder.exchanges if e.status == 429]
    assert limited, "the sandbox should have rate limited some writes"
    for exchange in limited:
        until = parsedate_to_datetime(exchange.retry_after).timestamp()
        resent = [
            e
            for e in recorder.exchanges
            if e.body == exchange.body and e.sent_at > exchange.sent_at
        ]
        assert resent, "a rate-limited write must be sent again"
        # Measured on the wire: the same write goes out again only once the date has passed.
        assert resent[0].sent_at >= until
    assert len(attio_sandbox.records("companies")) >= 6


def test_transient_5xx_and_dropped_connections_are_retried(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={"next": ["503", "500", "drop_before_apply", "drop_after_apply"], "methods": ["PUT"]},
    )

    async def scenario() -> tuple[dict, int, list]:
        async with connect(attio_sandbox) as attio:
            record = await attio.records.assert_record(
                "companies",
                matching_attribute="domains",
                values=company_values("flaky.io", "Flaky"),
            )
            found = await attio.records.query_all("companies", filter={"domains": "flaky.io"})
            return record, attio.transport.retries, found

    record, retries, found = run(scenario())
    assert retries == 4
    assert [record_id(r) for r in found] == [record_id(record)]


def test_ambiguous_create_looks_before_creating_again(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={"next": ["drop_after_apply"], "methods": ["POST"], "path": "records$"},
    )

    async def scenario() -> tuple[dict, list]:
        async with connect(attio_sandbox) as attio:
            created = await attio.records.create(
                "companies",
                {"name": "No Domain Co", "salesforce_id": "001A000001"},
                identity={"salesforce_id": "001A000001"},
            )
            found = await attio.records.query_all(
                "companies", filter={"salesforce_id": "001A000001"}
            )
            return created, found

    created, found = run(scenario())
    assert len(found) == 1
    assert record_id(found[0]) == record_id(created)


def test_ambiguous_create_without_identity_is_raised_not_resent(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={"next": ["drop_after_apply"], "methods": ["POST"], "path": "records$"},
    )

    async def scenario() -> AttioError:
        async with connect(attio_sandbox) as attio:
            with pytest.raises(AttioError) as caught:
                await attio.records.create("companies", {"name": "Blind Co"})
            return caught.value

    error = run(scenario())
    assert error.ambiguous and error.status_code is None
    names = [first_value(r, "name") for r in attio_sandbox.records("companies")]
    assert names.count("Blind Co") == 1  # applied once, never resent


def test_notes_and_tasks_survive_a_dropped_answer_without_duplicates(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={
            "next": ["drop_after_apply", "drop_after_apply"],
            "methods": ["POST"],
            "path": "/(notes|tasks)$",
        },
    )

    async def scenario() -> tuple[list, list]:
        async with connect(attio_sandbox) as attio:
            person = await attio.records.assert_record(
                "people",
                matching_attribute="email_addresses",
                values={"email_addresses": ["ada@analytical.example"], "name": "Lovelace, Ada"},
            )
            pid = record_id(person)
            members = await attio.workspace.members()
            await attio.notes.create(
                parent_object="people", parent_record_id=pid, title="Audit abc", content="**done**"
            )
            await attio.tasks.create(
                content="Form submission: hello",
                deadline_at="2026-11-23T09:00:00.000000000Z",
                linked_records=[{"target_object": "people", "target_record_id": pid}],
                assignees=[
                    {
                        "referenced_actor_type": "workspace-member",
                        "referenced_actor_id": members[0]["id"]["workspace_member_id"],
                    }
                ],
            )
            notes = [
                n async for n in attio.notes.list(parent_object="people", parent_record_id=pid)
            ]
            tasks = [
                t async for t in attio.tasks.list(linked_object="people", linked_record_id=pid)
            ]
            return notes, tasks

    notes, tasks = run(scenario())
    assert [n["title"] for n in notes] == ["Audit abc"]
    assert [t["content_plaintext"] for t in tasks] == ["Form submission: hello"]


def test_list_entry_assert_is_idempotent(attio_sandbox: Any) -> None:
    async def scenario() -> list:
        async with connect(attio_sandbox) as attio:
            person = await attio.records.assert_record(
                "people",
                matching_attribute="email_addresses",
                values={"email_addresses": ["grace@navy.example"]},
            )
            for _ in range(3):
                await attio.lists.assert_entry(
                    "inbound_leads", parent_object="people", parent_record_id=record_id(person)
                )
            return [e async for e in attio.lists.query_entries("inbound_leads")]

    entries = run(scenario())
    assert len(entries) == 1


def test_retries_are_bounded_and_reported(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={"rate": 1.0, "kinds": ["503"], "methods": ["GET"], "seed": 1},
    )

    async def scenario() -> AttioError:
        settings = RetrySettings(
            max_attempts=3, max_total_wait_seconds=5, initial_backoff_seconds=0.01
        )
        async with connect(attio_sandbox, retry=settings) as attio:
            with pytest.raises(AttioError) as caught:
                await attio.workspace.members()
            return caught.value

    error = run(scenario())
    assert error.status_code == 503
    assert error.attempts == 3
    assert "gave up after 3 attempts" in str(error)


def test_a_wrong_key_fails_at_once_naming_the_variable(attio_sandbox: Any) -> None:
    recorder = RecordingTransport()

    async def scenario() -> AttioError:
        async with connect(attio_sandbox, api_key="wrong", http_transport=recorder) as attio:
            with pytest.raises(AttioError) as caught:
                await attio.workspace.members()
            return caught.value

    error = run(scenario())
    assert error.status_code == 401 and error.type == "auth_error"
    assert "ATTIO_API_KEY" in str(error)
    assert len(recorder.exchanges) == 1


def test_a_missing_key_is_a_configuration_error_naming_the_variable(attio_sandbox: Any) -> None:
    with pytest.raises(AttioConfigError, match="ATTIO_API_KEY"):
        connect(attio_sandbox, api_key="  ")


def test_concurrent_writes_stay_inside_the_budget(attio_sandbox: Any) -> None:
    admin(attio_sandbox, "POST", "config", json={"write_rate": 25.0})
    recorder = RecordingTransport()

    async def scenario() -> None:
        async with connect(attio_sandbox, write_rate=25.0, http_transport=recorder) as attio:
            await asyncio.gather(
                *(
                    attio.records.assert_record(
                        "companies",
                        matching_attribute="domains",
                        values=company_values(f"budget{i}.example", f"B{i}"),
                    )
                    for i in range(60)
                )
            )

    run(scenario())
    assert [e.status for e in recorder.exchanges].count(429) == 0
    sent = sorted(e.sent_at for e in recorder.exchanges)
    densest = max(sum(1 for t in sent if s <= t < s + 1.0) for s in sent)
    assert densest <= 25


def test_add_entry_survives_a_dropped_answer_without_a_second_entry(attio_sandbox: Any) -> None:
    admin(
        attio_sandbox,
        "POST",
        "faults",
        json={"next": ["drop_after_apply"], "methods": ["POST"], "path": "entries$"},
    )

    async def scenario() -> list:
        async with connect(attio_sandbox) as attio:
            person = await attio.records.assert_record(
                "people",
                matching_attribute="email_addresses",
                values={"email_addresses": ["kay@parc.example"]},
            )
            await attio.lists.add_entry(
                "partner_leads", parent_object="people", parent_record_id=record_id(person)
            )
            return [e async for e in attio.lists.query_entries("partner_leads")]

    entries = run(scenario())
    assert len(entries) == 1
    assert attio_sandbox.stats()["faults_injected"] == {"drop_after_apply": 1}


@pytest.mark.parametrize("transit_ms", [None, 0])
def test_the_client_marks_when_a_write_left_for_a_budget_counting_from_the_sending(
    attio_sandbox: Any, transit_ms: int | None
) -> None:
    import time

    from revops_pipelines.infra.rate_budget import RateBudget

    # One write a second, and Attio answers 400 ms after it counted the write.
    admin(attio_sandbox, "POST", "config", json={"latency_ms": 400})
    budget = RateBudget(
        "Attio",
        {"write": 1.0},
        key=f"test:transit:{transit_ms}:{time.monotonic_ns()}",
        backend=None,
        margin_ms=0,
        transit_ms=transit_ms,
    )

    async def two_writes() -> list[float]:
        async with connect(attio_sandbox, budget=budget) as attio:
            for name in ("First", "Second"):
                await attio.records.create("companies", {"name": name})
            return attio.transport.budget_waits

    waits = run(two_writes())
    # The second write asks 0.4 s after the first was sent: a window after the answer it waits
    # about 1 s; a window after the sending, about 0.6 s.
    if transit_ms is None:
        assert waits[1] >= 0.95, waits
    else:
        assert 0.45 <= waits[1] <= 0.85, waits
