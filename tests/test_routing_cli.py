"""`revops routing check` and `revops routing simulate`: the leads routed live replayed with the
facts their decisions recorded, under the current and a proposed file; nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.config import load_model
from revops_pipelines.domain.routing import LeadFacts, RoutingConfig
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.routing import route_lead
from revops_pipelines.store.tables import routing_assignment, routing_state

RULES = """\
reps:
  - {{email: a@x.io, name: A, time_zone: America/New_York}}
  - {{email: b@x.io, name: B, time_zone: Europe/Paris}}
  - {{email: c@x.io, name: C, time_zone: Asia/Tokyo}}
pools:
  - {{name: ent, reps: [a@x.io]}}
  - {{name: all, reps: [b@x.io, c@x.io]}}
rules:
  - name: enterprise
    pool: ent
    when:
      - {{field: employee_count, op: gte, value: {threshold}}}
  - {{name: default, pool: all}}
"""


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


# (lead key, email, employees, day and hour routed): one before --since 2026-11-10, five after.
LEADS = [
    ("tally:h1", "h1@small.io", 10, 1, 12),
    ("tally:big", "ann@big.io", 1000, 12, 9),
    ("tally:tiny", "tim@tiny.io", 5, 12, 10),
    ("tally:mid", "max@mid.io", 200, 13, 12),
    ("typeform:small", "sue@small.io", 150, 14, 12),
    ("typeform:nosize", "dee@nosize.io", None, 15, 12),
]


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Current rules: enterprise from 500 employees, in a config dir of the test's own; the
    leads of LEADS routed live by the store under them, and `tally:mid` stored as a lead routed
    before facts were recorded."""
    (tmp_path / "routing.yaml").write_text(RULES.format(threshold=500))
    monkeypatch.setenv("REVOPS_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("REVOPS_DATABASE_URL", db_url)
    config = load_model(tmp_path / "routing.yaml", RoutingConfig)
    engine = store_engine.get_engine(db_url)
    for key, email, size, day, hour in LEADS:
        facts = LeadFacts(email, email.split("@")[1], size, source=key.split(":")[0])
        route_lead(engine, key, facts, config, _at(day).date(), now=_at(day, hour))
    with engine.begin() as connection:
        connection.execute(
            sa.update(routing_assignment)
            .where(routing_assignment.c.lead_key == "tally:mid")
            .values(facts=None, routing_day=None)
        )
    return CliRunner()


def _row(output: str, key: str) -> list[str]:
    return next(
        [c.strip() for c in line.split("  ") if c.strip()]
        for line in output.splitlines()
        if line.split()[:1] == [key]
    )


def _stored(db_url: str) -> list[tuple[object, ...]]:
    with store_engine.get_engine(db_url).connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(sa.select(routing_state).order_by(*routing_state.c))
        ] + [
            tuple(r)
            for r in connection.execute(
                sa.select(routing_assignment).order_by(routing_assignment.c.lead_key)
            )
        ]


def test_simulate_replays_the_recorded_facts_side_by_side(
    runner: CliRunner, tmp_path: Path, db_url: str
) -> None:
    """Live, current and proposed per lead. Current agrees with live only because the replay
    starts from the live turns before --since (B took h1, so the tiny lead is C's); the lead
    without facts is listed as such and its live turn still counts."""
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(RULES.format(threshold=100))
    before = _stored(db_url)
    result = runner.invoke(
        app, ["routing", "simulate", "--since", "2026-11-10", "--rules", str(proposed)]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "5 leads routed since 2026-11-10; 1 with facts not recorded; nothing written" in out
    assert _row(out, "lead") == ["lead", "email", "day", "live", "current", "proposed"]
    assert _row(out, "tally:big") == [
        "tally:big",
        "a•••@big.io",
        "2026-11-12",
        "enterprise → A",
        "enterprise → A",
        "enterprise → A",
    ]
    assert _row(out, "tally:tiny")[3:] == ["default → C", "default → C", "default → C"]
    assert _row(out, "tally:mid") == [
        "tally:mid",
        "—",
        "2026-11-13",
        "default → B",
        "facts not recorded",
        "facts not recorded",
    ]
    # 150 employees: enterprise under the proposed rules, so the next small lead is C's turn.
    assert _row(out, "typeform:small") == [
        "typeform:small",
        "s•••@small.io",
        "2026-11-14",
        "default → C",
        "default → C",
        "enterprise → A",
    ]
    assert _row(out, "typeform:nosize") == [
        "typeform:nosize",
        "d•••@nosize.io",
        "2026-11-15",
        "default → B",
        "default → B",
        "default → C",
    ]
    assert "current rules vs live: 4 of 4 the same" in out
    assert "proposed vs current: 2 of 4 change (1 to another rule, 1 to another rep)" in out
    assert _row(out, "rep") == ["rep", "live", "current", "proposed", "change"]
    assert _row(out, "A") == ["A", "1", "1", "2", "+1"]
    assert _row(out, "B") == ["B", "1", "1", "0", "-1"]
    assert _row(out, "C") == ["C", "2", "2", "2", "+0"]
    assert _row(out, "enterprise") == ["enterprise", "1", "1", "2", "+1"]
    for _, email, *_ in LEADS:
        assert email not in out  # lead addresses are masked
    assert _stored(db_url) == before  # nothing written


def test_simulate_without_a_proposed_file_shows_live_and_current(runner: CliRunner) -> None:
    result = runner.invoke(app, ["routing", "simulate", "--since", "2026-11-14"])
    assert result.exit_code == 0, result.output
    assert "2 leads routed since 2026-11-14; nothing written" in result.output
    assert _row(result.output, "lead") == ["lead", "email", "day", "live", "current"]
    assert _row(result.output, "typeform:nosize")[3:] == ["default → B", "default → B"]
    assert "current rules vs live: 2 of 2 the same" in result.output
    assert "proposed vs current" not in result.output


def test_simulate_says_when_the_rules_changed_since_the_live_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "routing.yaml").write_text(RULES.format(threshold=100))
    result = runner.invoke(app, ["routing", "simulate", "--since", "2026-11-10"])
    assert result.exit_code == 0, result.output
    assert "current rules vs live: 2 of 4 the same, 2 differ (the rules changed since?)" in (
        result.output
    )


def test_simulate_refuses_a_broken_candidate_with_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        RULES.format(threshold=100).replace("time_zone: Asia/Tokyo", "time_zone: Tokio")
    )
    result = runner.invoke(
        app, ["routing", "simulate", "--since", "2026-11-10", "--rules", str(candidate)]
    )
    assert result.exit_code == 1
    assert (
        f"{candidate}:4: reps[2].time_zone: Value error, unknown time zone 'Tokio'" in result.output
    )


def test_check_prints_the_pools_of_a_valid_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "routing.yaml"
    good.write_text(RULES.format(threshold=500))
    result = runner.invoke(app, ["routing", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert f"{good}: valid (2 rules, 2 pools)" in result.output
    assert "pool all (round robin)" in result.output
    assert "  c@x.io  C  (Asia/Tokyo)" in result.output
    assert "rule 1 enterprise: employee_count gte 500 -> pool ent" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.format(threshold=500).replace("  - {name: default, pool: all}\n", ""))
    result = runner.invoke(app, ["routing", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:11: rules[0].when: the last rule must be a catch-all" in result.output


def test_check_defaults_to_the_packaged_routing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_CONFIG_DIR", raising=False)
    result = CliRunner().invoke(app, ["routing", "check"])
    assert result.exit_code == 0, result.output
    assert "valid (4 rules, 4 pools)" in result.output
    assert "pool emea (capacity)" in result.output
