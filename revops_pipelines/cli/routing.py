"""`revops routing`: validate a routing file, and preview a change against past leads."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.personal_data import mask_email, mask_personal
from revops_pipelines.domain.routing import ROUTING_FILE, RoutingConfig, RoutingDecision
from revops_pipelines.domain.routing_simulation import (
    UNASSIGNED,
    replay_routed,
    summarize,
    tallies,
)
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.routing_history import routed_since

NOT_RECORDED = "facts not recorded"


@click.group()
def routing() -> None:
    """Lead routing rules (routing.yaml): check a file, simulate a change."""


def _load(path: Path) -> RoutingConfig:
    try:
        return load_model(path, RoutingConfig)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@routing.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path | None) -> None:
    """Validate FILE (default: the current routing.yaml) and print its pools and rules."""
    path = file or config_path(ROUTING_FILE)
    config = _load(path)
    click.echo(f"{path}: valid ({len(config.rules)} rules, {len(config.pools)} pools)")
    for pool in config.pools:
        click.echo(f"pool {pool.name} ({pool.strategy.replace('_', ' ')})")
        for email in pool.reps:
            rep = config.rep(email)
            extras = [rep.time_zone]
            if pool.strategy == "weighted":
                extras.append(f"weight {rep.weight:g}")
            if rep.daily_capacity is not None:
                extras.append(f"{rep.daily_capacity}/day")
            extras += [f"away {a.start}..{a.end}" for a in rep.unavailable]
            click.echo(f"  {rep.email}  {rep.name}  ({', '.join(extras)})")
    for number, rule in enumerate(config.rules, start=1):
        when = " and ".join(f"{c.field} {c.op} {c.value}" for c in rule.when) or "catch-all"
        click.echo(f"rule {number} {rule.name}: {when} -> pool {rule.pool}")


def _label(configs: list[RoutingConfig], email: str | None) -> str:
    """A rep by name from the routing files; one no file knows shows as a masked address."""
    if email is None:
        return UNASSIGNED
    names = {r.email: r.name for c in reversed(configs) for r in c.reps}
    return names.get(email, mask_email(email))


def _cell(configs: list[RoutingConfig], decision: RoutingDecision | None) -> str:
    if decision is None:
        return NOT_RECORDED
    return f"{decision.rule} → {_label(configs, decision.rep_email)}"


def _print(rows: list[list[str]]) -> None:
    """Aligned columns, every cell masked (a lead key can carry an address)."""
    cells = [[mask_personal(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _tally_table(title: str, columns: list[Counter[str]], headers: list[str]) -> list[list[str]]:
    keys = sorted({k for c in columns for k in c}, key=lambda k: (-columns[0][k], k))
    rows = [[title, *headers] + (["change"] if len(columns) == 3 else [])]
    for key in keys:
        values = [c[key] for c in columns]
        change = [f"{values[2] - values[1]:+d}"] if len(values) == 3 else []
        rows.append([key, *(str(v) for v in values), *change])
    return rows


@routing.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Replay the leads routed on or after this day (UTC).",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A proposed routing file, shown next to the current one.",
)
def simulate(since: datetime, rules_file: Path | None) -> None:
    """Route the leads routed since --since again with the facts their live decisions used,
    under the current rules (and a proposed file); print live, current and proposed side by side.

    The replay starts from the live turn order before --since and keeps its state in memory;
    nothing is written. Leads routed before facts were recorded are listed, not guessed."""
    current = _load(config_path(ROUTING_FILE))
    configs = [current] + ([_load(rules_file)] if rules_file else [])
    turns, events = routed_since(store_engine.get_engine(), since.replace(tzinfo=UTC))
    rows = replay_routed(turns, events, configs)
    summary = summarize(rows)
    unknown = f"; {summary.without_facts} with {NOT_RECORDED}" if summary.without_facts else ""
    click.echo(
        f"{summary.leads} leads routed since {since.date().isoformat()}{unknown}; nothing written"
    )
    if not rows:
        return
    headers = ["live", "current", *(["proposed"] if rules_file else [])]
    table = [["lead", "email", "day", *headers]]
    for row in rows:
        email = row.lead.facts.email if row.lead.facts else "—"
        cells = [_cell(configs, row.lead.live), *(_cell(configs, o) for o in row.outcomes)]
        table.append([row.lead.lead_key, email, row.lead.day.isoformat(), *cells])
    click.echo()
    _print(table)
    known = summary.leads - summary.without_facts
    click.echo()
    click.echo(
        f"current rules vs live: {known - summary.current_differs_from_live} of {known} the same"
        + (
            f", {summary.current_differs_from_live} differ (the rules changed since?)"
            if summary.current_differs_from_live
            else ""
        )
    )
    if rules_file:
        click.echo(
            f"proposed vs current: {summary.changed} of {known} change"
            f" ({summary.rule_changed} to another rule, {summary.rep_changed} to another rep)"
        )
    live = tallies(r.lead.live for r in rows if r.outcomes[0] is not None)
    simulated = [tallies(r.outcomes[i] for r in rows) for i in range(len(configs))]
    columns = [live, *simulated]
    click.echo()
    _print(
        _tally_table(
            "rep",
            [Counter({_label(configs, k): v for k, v in t[0].items()}) for t in columns],
            headers,
        )
    )
    click.echo()
    _print(_tally_table("rule", [t[1] for t in columns], headers))


@routing.command()
@click.option(
    "--rules",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A routing file to measure against (default: the deployed routing.yaml).",
)
def sla(file: Path | None) -> None:
    """List routed leads past their pool's SLA whose follow-up has no first touch and no
    escalation yet (from the store; REVOPS_DATABASE_URL)."""
    from revops_pipelines.services.lead_sla import leads_past_sla

    config = _load(file or config_path(ROUTING_FILE))
    engine = store_engine.get_engine(store_engine.database_url())
    breaches = leads_past_sla(engine, config, datetime.now(UTC))
    if not breaches:
        click.echo("No lead is past its SLA.")
        return
    click.echo(f"{len(breaches)} lead(s) past SLA:")
    for b in breaches:
        click.echo(
            f"  {b.lead_key}  pool {b.pool}  rep {b.rep}  routed {b.assigned_at:%Y-%m-%d %H:%M}"
            f"  due {b.deadline:%Y-%m-%d %H:%M} UTC"
        )
