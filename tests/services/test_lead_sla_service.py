"""Lead SLAs against the sandboxes over real HTTP, on SQLite and PostgreSQL: leads made by the
real lead flow, their tasks left open past the pool's SLA, are escalated once (Slack post in the
pool's channel naming the rep, an audit note) and, where the pool says so, re-routed by the pool's
own strategy to another available rep with a new task (the old task left open); under 10% faults
and repeated passes each effect, and the re-route's turn, happens once. A lead whose first touch
was recorded is not listed."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.lead_sla import sla_deadline
from revops_pipelines.domain.routing_config import Absence, RoutingConfig
from revops_pipelines.domain.submissions import FORM_SOURCES
from revops_pipelines.services.lead_sla import SlaEscalation, SlaReport, leads_past_sla
from revops_pipelines.store import inbox
from revops_pipelines.store.first_touch import LeadTask, record_first_touch
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.ledger import ledger_row
from revops_pipelines.store.routing import assignments
from revops_pipelines.store.tables import routing_state
from revops_sandbox.form_traffic import typeform_delivery
from tests.services.conftest import ROUTING
from tests.services.events_harness import make_world
from tests.services.test_activity_events_service import clients  # noqa: F401 (a fixture)
from tests.services.test_lead_service import run_lead_flow

ESCALATIONS = "sales-leads"


def _with_sla(reroute: bool, away: str | None = None) -> RoutingConfig:
    """The packaged file's reps, every lead to the round-robin `inbound` pool (Morgan, Ava,
    Lucas, Noah) with a 4-hour SLA; `away` is out of office for a month from yesterday."""
    pools = tuple(
        p.model_copy(
            update={
                "sla_business_hours": 4.0,
                "sla_reroute": reroute,
                "sla_channel": "#sales-leads",
            }
        )
        for p in ROUTING.pools
    )
    today = datetime.now(UTC).date()
    absence = Absence(start=today - timedelta(days=1), end=today + timedelta(days=30))
    reps = tuple(
        r.model_copy(update={"unavailable": (absence,)}) if r.email == away else r
        for r in ROUTING.reps
    )
    rules = (ROUTING.rules[-1],)  # the catch-all: the inbound pool
    return ROUTING.model_copy(update={"pools": pools, "reps": reps, "rules": rules})


@pytest.fixture
def world(engine, attio_sandbox, slack_sandbox) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return make_world(engine, attio_sandbox, slack_sandbox)


def _leads(
    world: dict[str, Any],
    clients: dict[str, Any],  # noqa: F811
    count: int,
    routing: RoutingConfig = ROUTING,
) -> list[str]:
    rng = random.Random(21)
    for _ in range(count):
        delivery = typeform_delivery("unused-secret", rng)
        payload = json.loads(delivery.body)
        inbox.store_events(
            world["engine"], [NewEvent("typeform", payload["event_id"], {}, delivery.body)]
        )
    run, reports, _, leads = run_lead_flow(
        world["engine"], world["attio"], clients, "lead-run", routing
    )
    assert all(not (r.failed_critical or r.retry_later) for r in reports)
    run.settle(FORM_SOURCES)
    return [lead.key for lead in leads.leads]


def _escalate(world: dict[str, Any], config: RoutingConfig, now: Any) -> SlaReport:
    async def go() -> SlaReport:
        async with world["attio"].client() as client:
            return await SlaEscalation(client, world["engine"], world["slack"], config).run(now)

    return asyncio.run(go())


MORGAN, AVA, LUCAS, NOAH = (
    f"{n}@northwindsales.io" for n in ("morgan.lee", "ava.thompson", "lucas.silva", "noah.patel")
)


@pytest.mark.parametrize(
    ("reroute", "away", "new_rep"),
    [(False, None, None), (True, None, NOAH), (True, NOAH, MORGAN)],
    ids=["escalate", "reroute", "reroute-away"],
)
def test_an_open_task_past_the_sla_is_escalated_once(  # type: ignore[no-untyped-def]
    world,
    clients,  # noqa: F811
    reroute,
    away,
    new_rep,
) -> None:
    """Three leads go to Morgan, Ava and Lucas in turn; Ava's is left open. Re-routed, it goes
    by the pool's round robin to Noah, who has waited longest (not Lucas, the next in the
    pool's order), or, with Noah out of office, to Morgan; the turn counts once."""
    config = _with_sla(reroute, away)
    _leads(world, clients, 3, config)
    engine = world["engine"]
    live = sorted(assignments(engine, "inbound"), key=lambda a: a["sequence"])
    assert [a["rep"] for a in live] == [MORGAN, AVA, LUCAS]
    open_assignment = live[1]
    open_key = open_assignment["lead_key"]
    assigned_at, pool, rep_email = (open_assignment[k] for k in ("assigned_at", "pool", "rep"))
    now = max(a["assigned_at"] for a in live) + timedelta(days=10)
    # The other leads were touched (flow C recorded it): they are not past their SLA.
    for touched in (live[0], live[2]):
        record_first_touch(
            engine,
            LeadTask(touched["lead_key"], None),
            person_id=None,
            task_id="t",
            touched_at=now,
        )
    assert [b.lead_key for b in leads_past_sla(engine, config, now)] == [open_key]
    assert leads_past_sla(engine, config, assigned_at) == []

    open_task = ledger_row(engine, f"{open_key}:task")["target_ref"]  # type: ignore[index]
    world["slack_sandbox"].faults.configure({"rate": 0.1, "kinds": ["500"], "seed": 5})
    world["sandbox"].faults.configure(
        {"rate": 0.1, "kinds": ["500", "503", "drop_after_apply"], "seed": 5}
    )
    try:
        reports = [_escalate(world, config, now) for _ in range(6)]  # redelivered passes
    finally:
        world["sandbox"].faults.clear()
        world["slack_sandbox"].faults.clear()
    assert sum(1 for r in reports for e in r.escalated if e[3] == "escalated") == 1
    assert leads_past_sla(engine, config, now) == []
    [post] = [
        m for m in world["slack_sandbox"].messages(ESCALATIONS) if "SLA breached" in m["text"]
    ]
    rep = config.rep(rep_email)
    assert f"@{rep.name}" in post["text"] and f"pool {pool}" in post["text"]
    [task] = [t for t in world["sandbox"].tasks() if t["id"]["task_id"] == open_task]
    person = task["linked_records"][0]["target_record_id"]
    for value in json.dumps(world["sandbox"].records("people")).split('"'):
        if "@" in value and "northwindsales" not in value:
            assert value not in post["text"]  # no lead email in the alert
    notes = [n for n in world["sandbox"].notes() if n["parent_record_id"] == person]
    assert len([n for n in notes if n["title"].startswith("SLA escalation")]) == 1
    tasks_after = [t for t in world["sandbox"].tasks() if person in str(t["linked_records"])]
    [record] = [p for p in world["sandbox"].records("people") if record_id(p) == person]
    owner = first_value(record, "owner", "referenced_actor_id")
    members = {
        m["email_address"]: m["id"]["workspace_member_id"] for m in world["sandbox"].members()
    }
    [stored] = [a for a in assignments(engine) if a["lead_key"] == open_key]
    if reroute:
        new_task = [t for t in tasks_after if "re-routed" in t["content_plaintext"]]
        assert len(new_task) == 1 and len(tasks_after) == 2
        assert all(not t["is_completed"] for t in tasks_after)  # the old task is left as is
        [escalated] = [e for r in reports for e in r.escalated if e[3] == "escalated"]
        assert escalated[4] == new_rep
        assert new_task[0]["assignees"][0]["referenced_actor_id"] == members[new_rep]
        assert owner == members[new_rep] and "Re-routed to" in post["text"]
        # One turn in the pool, however many passes ran: the pool's fourth.
        assert (stored["rerouted_to"], stored["reroute_sequence"]) == (new_rep, 4)
        assert _turns(engine, "inbound") == Counter([MORGAN, AVA, LUCAS, new_rep])
    else:
        assert len(tasks_after) == 1 and owner == members[rep_email]
        assert stored["rerouted_to"] is None
        assert _turns(engine, "inbound") == {MORGAN: 1, AVA: 1, LUCAS: 1}


def _turns(engine: sa.Engine, pool: str) -> dict[str, int]:
    """All-time leads per rep of `pool` in the routing state (reps with none left out)."""
    s = routing_state
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(s.c.rep, s.c.assigned_count).where(
                s.c.pool == pool, s.c.period == "all", s.c.rep != "*", s.c.assigned_count > 0
            )
        )
        return dict(rows.all())


def test_sla_hours_count_working_time_only() -> None:

    friday_4pm = datetime(2026, 12, 4, 16, tzinfo=UTC)
    due = sla_deadline(friday_4pm, 4, time_zone="UTC", day_start_hour=9, day_end_hour=17)
    assert due == datetime(2026, 12, 7, 12, tzinfo=UTC)  # 1 h Friday, 3 h Monday
    saturday = datetime(2026, 12, 5, 10, tzinfo=UTC)
    assert sla_deadline(saturday, 2, time_zone="UTC", day_start_hour=9, day_end_hour=17) == (
        datetime(2026, 12, 7, 11, tzinfo=UTC)
    )


def test_revops_routing_sla_lists_the_leads_past_sla(world, clients, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from click.testing import CliRunner
    from ruamel.yaml import YAML

    from revops_pipelines.cli import app
    from revops_pipelines.config.loader import DEFAULT_DIR

    [key] = _leads(world, clients, 1)
    yaml = YAML()
    data = yaml.load((DEFAULT_DIR / "routing.yaml").read_text(encoding="utf-8"))
    for pool in data["pools"]:
        pool["sla_business_hours"] = 0.0001  # under half a second of working time
    # Every hour of every day is working time here, so the lead is past SLA within a second.
    data["business_hours"].update({"day_start_hour": 0, "day_end_hour": 24, "weekend": []})
    data["business_hours"]["holidays"] = []
    for rep in data["reps"]:
        rep.pop("holiday_country", None)
    rules = tmp_path / "routing.yaml"
    with rules.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    time.sleep(1)
    env = {"REVOPS_DATABASE_URL": db_url}
    listed = CliRunner().invoke(app, ["routing", "sla", "--rules", str(rules)], env=env)
    assert listed.exit_code == 0, listed.output
    assert "1 lead(s) past SLA:" in listed.output and key in listed.output
    shipped = CliRunner().invoke(app, ["routing", "sla"], env=env)
    assert shipped.exit_code == 0 and "No lead is past its SLA." in shipped.output
