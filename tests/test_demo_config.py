"""The demo's configuration: the project's own, except SLAs of a minute of working time around
the clock, so `make demo` shows an escalation while it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from revops_pipelines.cli.demo_events import demo_config_dir
from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.lead_sla import lead_sla_deadline
from revops_pipelines.domain.routing_config import RoutingConfig


def test_every_pool_breaches_a_minute_after_assignment_on_any_day(tmp_path: Path) -> None:
    shipped = load_model(config_path("routing.yaml"), RoutingConfig)
    folder = demo_config_dir(tmp_path)
    demo = load_model(folder / "routing.yaml", RoutingConfig)
    assert sorted(p.name for p in demo.pools) == sorted(p.name for p in shipped.pools)
    assert [r.name for r in demo.rules] == [r.name for r in shipped.rules]
    assert {p.name for p in demo.pools if p.sla_reroute} == {"enterprise"}
    assert sorted(f.name for f in folder.glob("*.yaml")) == sorted(
        f.name for f in config_path("routing.yaml").parent.glob("*.yaml")
    )
    # Christmas Day, a Friday night in Los Angeles: still a minute.
    assigned = datetime(2026, 12, 26, 5, 30, tzinfo=UTC)
    for pool in demo.pools:
        for rep in pool.reps:
            deadline = lead_sla_deadline(demo, pool, rep, assigned)
            assert deadline == assigned + timedelta(minutes=1), (pool.name, rep)
