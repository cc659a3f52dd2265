"""`revops routing simulate` over leads routed by the real lead flow (Attio, enrichment and the
side systems' sandboxes over real HTTP; SQLite and PostgreSQL): each decision stores the facts it
used, enrichment's company size included, so the replay under the unchanged rules agrees with
every live decision, an enterprise one among them, and a proposed file shows what changes."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from revops_pipelines.cli import app
from revops_pipelines.config.loader import DEFAULT_DIR
from revops_pipelines.domain.routing import LeadFacts
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.routing import assignments
from revops_sandbox.form_traffic import typeform_delivery
from tests.services.test_lead_service import clients, run_lead_flow  # noqa: F401 (a fixture)


def _cells(output: str, key: str) -> list[str]:
    [line] = [line for line in output.splitlines() if line.split()[:1] == [key]]
    return [c.strip() for c in line.split("  ") if c.strip()]


def _simulate(db_url: str, *args: str) -> str:
    since = datetime.now(UTC).date().isoformat()
    env = {"REVOPS_DATABASE_URL": db_url}
    result = CliRunner().invoke(app, ["routing", "simulate", "--since", since, *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_replay_of_flow_routed_leads_agrees_with_every_live_decision(  # type: ignore[no-untyped-def]
    engine,
    attio,
    clients,  # noqa: F811
    db_url,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REVOPS_CONFIG_DIR", raising=False)  # the packaged routing.yaml
    rng, emails = random.Random(8), []
    for _ in range(6):
        delivery = typeform_delivery("unused-secret", rng)
        payload = json.loads(delivery.body)
        emails += [a["email"] for a in payload["form_response"]["answers"] if a["type"] == "email"]
        inbox.store_events(engine, [NewEvent("typeform", payload["event_id"], {}, delivery.body)])
    _, reports, _, _ = run_lead_flow(engine, attio, clients, "sim-run")
    assert all(not (r.failed_critical or r.retry_later) for r in reports)

    live = assignments(engine)
    assert len(live) == 6
    # The form asks no company size: enrichment's head count is what routed these leads.
    enterprise = [a for a in live if a["rule"] == "enterprise"]
    assert enterprise and all(
        LeadFacts.from_record(a["facts"]).employee_count >= 500 for a in enterprise
    )  # type: ignore[operator]
    assert all(a["facts"]["email"] in emails for a in live)

    out = _simulate(db_url)
    assert "6 leads routed since" in out and "facts not recorded" not in out
    assert "current rules vs live: 6 of 6 the same" in out
    for a in live:
        cells = _cells(out, a["lead_key"])
        assert cells[3] == cells[4] and cells[3].startswith(f"{a['rule']} → ")
    assert any(_cells(out, a["lead_key"])[3].startswith("enterprise → ") for a in live)
    for email in emails:
        assert email not in out

    # A proposed file that moves the enterprise threshold out of reach.
    yaml = YAML()
    data = yaml.load((DEFAULT_DIR / "routing.yaml").read_text(encoding="utf-8"))
    data["rules"][0]["when"][0]["value"] = 1_000_000
    proposed = tmp_path / "proposed.yaml"
    with proposed.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    out = _simulate(db_url, "--rules", str(proposed))
    # The enterprise leads change rule; the pools they land in may then turn differently too.
    changed = re.search(r"proposed vs current: (\d+) of 6 change \((\d+) to another rule", out)
    assert changed and int(changed[2]) == len(enterprise) and int(changed[1]) >= len(enterprise)
    for a in enterprise:
        assert not _cells(out, a["lead_key"])[5].startswith("enterprise → ")
