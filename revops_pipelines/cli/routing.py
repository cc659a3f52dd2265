"""`revops routing`: validate a routing file, and preview a change against past leads."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.leads import LeadRejected, normalize_submission
from revops_pipelines.domain.routing import (
    ROUTING_FILE,
    LeadFacts,
    RoutingConfig,
    RoutingDecision,
    replay,
)
from revops_pipelines.domain.submissions import (
    Submission,
    SubmissionParseError,
    parse_submission,
)
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.routing import form_deliveries_since

UNASSIGNED = "(unassigned)"
# Form answers that may stand in for enrichment; most forms ask neither, so these stay unknown.
_ANSWER_LABELS = {
    "employee_count": r"employees|company size|team size|headcount",
    "industry": r"industry|sector",
}


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


def lead_facts(submission: Submission) -> LeadFacts:
    """What live routing would know of a submission: the normalized lead (email, company
    domain, country, region). Company size and industry come from enrichment in the lead flow,
    which a replay does not call; form answers that name them stand in."""
    lead = normalize_submission(submission)
    found: dict[str, str] = {}
    for label, value in submission.answers.items():
        for name, pattern in _ANSWER_LABELS.items():
            if name not in found and value and re.search(pattern, label, re.I):
                found[name] = str(value).strip()
    size = re.sub(r"\D", "", found.get("employee_count", "").split("-")[0])  # "500-1000"
    return LeadFacts(
        email=lead.email,
        company_domain=lead.company_domain,
        employee_count=int(size) if size else None,
        industry=found.get("industry"),
        region=lead.region,
        country=lead.country,
        source=lead.source,
    )


def _tally(decisions: list[RoutingDecision]) -> tuple[Counter[str], Counter[str]]:
    return (
        Counter(d.rep_email or UNASSIGNED for d in decisions),
        Counter(d.rule for d in decisions),
    )


def _table(title: str, columns: list[Counter[str]], order: list[str]) -> None:
    headers = ["current", "candidate", "change"][: 1 if len(columns) == 1 else 3]
    width = max([len(title), *(len(k) for k in order)])
    click.echo(f"{title:<{width}}  " + "  ".join(f"{h:>9}" for h in headers))
    for key in order:
        values = [c[key] for c in columns]
        cells = [f"{v:>9}" for v in values]
        if len(values) == 2:
            cells.append(f"{values[1] - values[0]:>+9}")
        click.echo(f"{key:<{width}}  " + "  ".join(cells))


@routing.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Replay form leads received on or after this day (UTC).",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A candidate routing file, shown next to the current one.",
)
def simulate(since: datetime, rules_file: Path | None) -> None:
    """Replay past form leads against the rules; print leads per rep and per rule.

    Each file starts from an empty turn order and counts, kept in memory; nothing is written."""
    current = _load(config_path(ROUTING_FILE))
    configs = [current] + ([_load(rules_file)] if rules_file else [])
    deliveries = form_deliveries_since(store_engine.get_engine(), since.replace(tzinfo=UTC))
    leads, unreadable = [], 0
    for row in deliveries:
        try:
            submission = parse_submission(
                row["source"],
                row["body"],
                raw_ref=f"webhook_inbox:{row['id']}",
                event_id=row["event_id"],
                received_at=row["received_at"],
                inbox_id=row["id"],
            )
            facts = lead_facts(submission)
        except (SubmissionParseError, LeadRejected):
            unreadable += 1
            continue
        leads.append((facts, row["received_at"].date()))
    skipped = f" ({unreadable} unreadable or invalid skipped)" if unreadable else ""
    click.echo(
        f"{len(leads)} form leads since {since.date().isoformat()}{skipped}; nothing written"
    )
    tallies = [_tally(replay(leads, config)) for config in configs]
    reps = [r.email for c in configs for r in c.reps]
    reps = list(dict.fromkeys(reps + sorted({k for t in tallies for k in t[0]} - set(reps))))
    rules = list(dict.fromkeys(r.name for c in configs for r in c.rules))
    click.echo()
    _table("rep", [t[0] for t in tallies], reps)
    click.echo()
    _table("rule", [t[1] for t in tallies], rules)


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
