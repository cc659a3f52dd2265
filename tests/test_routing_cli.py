"""`revops routing check` and `revops routing simulate`: preview a rules change, write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.tables import routing_assignment, routing_state, webhook_inbox

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


def _tally(email: str, size: str | None) -> bytes:
    fields = [
        {"key": "q1", "label": "Full Name", "type": "INPUT_TEXT", "value": "Jo Doe"},
        {"key": "q2", "label": "Email Address", "type": "INPUT_EMAIL", "value": email},
    ]
    if size is not None:
        fields.append({"key": "q3", "label": "Company size", "type": "INPUT_TEXT", "value": size})
    body = {
        "eventId": email,
        "eventType": "FORM_RESPONSE",
        "data": {"formId": "f", "fields": fields},
    }
    return json.dumps(body).encode()


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, 0, tzinfo=UTC)


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Current rules: enterprise from 500 employees, in a config dir of the test's own."""
    (tmp_path / "routing.yaml").write_text(RULES.format(threshold=500))
    monkeypatch.setenv("REVOPS_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("REVOPS_DATABASE_URL", db_url)
    typeform = {
        "event_id": "tf-1",
        "event_type": "form_response",
        "form_response": {
            "form_id": "f",
            "answers": [
                {"type": "email", "email": "d@nosize.io", "field": {"id": "e", "type": "email"}}
            ],
        },
    }
    events = [
        inbox.NewEvent("tally", "t1", {}, _tally("a@big.io", "1000-5000"), _at(12)),
        inbox.NewEvent("tally", "t2", {}, _tally("b@mid.io", "200"), _at(13)),
        inbox.NewEvent("tally", "t3", {}, _tally("c@small.io", "50"), _at(14)),
        inbox.NewEvent("typeform", "tf-1", {}, json.dumps(typeform).encode(), _at(15)),
        inbox.NewEvent("tally", "old", {}, _tally("o@big.io", "1000"), _at(1)),  # before --since
        inbox.NewEvent("tally", "bad", {}, b"not json", _at(16)),
        inbox.NewEvent("attio", "at-1", {}, b"{}", _at(16)),  # not a form: never replayed
    ]
    inbox.store_events(store_engine.get_engine(db_url), events)
    return CliRunner()


def _row(output: str, key: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.split()[:1] == [key])


def test_simulate_prints_current_and_candidate_counts_per_rep_and_rule(
    runner: CliRunner, tmp_path: Path, db_url: str
) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(RULES.format(threshold=100))
    result = runner.invoke(
        app, ["routing", "simulate", "--since", "2026-11-10", "--rules", str(candidate)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "4 form leads since 2026-11-10 (1 unreadable or invalid skipped); nothing written"
        in result.output
    )
    # Current: 1000 -> ent; 200, 50 and the unknown size -> b, c, b in turn.
    # Candidate (from 100): 1000 and 200 -> ent; 50 and unknown -> b, c.
    assert _row(result.output, "rep") == ["rep", "current", "candidate", "change"]
    assert _row(result.output, "a@x.io") == ["a@x.io", "1", "2", "+1"]
    assert _row(result.output, "b@x.io") == ["b@x.io", "2", "1", "-1"]
    assert _row(result.output, "c@x.io") == ["c@x.io", "1", "1", "+0"]
    assert _row(result.output, "enterprise") == ["enterprise", "1", "2", "+1"]
    assert _row(result.output, "default") == ["default", "3", "2", "-1"]
    engine = store_engine.get_engine(db_url)
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(routing_state)).scalar() == 0
        )
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(routing_assignment)).scalar()
            == 0
        )
        statuses = set(connection.execute(sa.select(webhook_inbox.c.status)).scalars())
    assert statuses == {"pending"}


def test_simulate_without_a_candidate_shows_the_current_rules_only(runner: CliRunner) -> None:
    result = runner.invoke(app, ["routing", "simulate", "--since", "2026-11-14"])
    assert result.exit_code == 0, result.output
    assert "2 form leads since 2026-11-14 (1 unreadable or invalid skipped)" in result.output
    assert _row(result.output, "rep") == ["rep", "current"]
    assert _row(result.output, "b@x.io") == ["b@x.io", "1"]
    assert _row(result.output, "c@x.io") == ["c@x.io", "1"]
    assert _row(result.output, "a@x.io") == ["a@x.io", "0"]


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


def test_replayed_facts_follow_the_lead_normalization_and_read_size_answers() -> None:
    from revops_pipelines.cli.routing import lead_facts
    from revops_pipelines.domain.submissions import parse_submission

    body = json.loads(_tally(" Jo@Gmail.com ", "500-1000"))
    body["data"]["fields"] += [
        {"key": "q4", "label": "Country", "type": "INPUT_TEXT", "value": "Germany"},
        {"key": "q5", "label": "Industry", "type": "INPUT_TEXT", "value": "Technology"},
    ]
    submission = parse_submission(
        "tally",
        json.dumps(body).encode(),
        raw_ref="webhook_inbox:1",
        event_id="e",
        received_at=_at(2),
    )
    facts = lead_facts(submission)
    assert (facts.email, facts.company_domain, facts.employee_count) == ("jo@gmail.com", None, 500)
    assert (facts.industry, facts.country, facts.region, facts.source) == (
        "Technology",
        "DE",
        "EMEA",
        "tally",
    )
