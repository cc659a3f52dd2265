"""`revops config show`: the active environment profile, where each value came from, and which
secrets are set (never their values)."""

from __future__ import annotations

import json
import os

import click

from revops_pipelines.infra.settings import (
    ENV_VAR,
    PROFILES,
    SettingsError,
    load_settings,
    mask_url,
    secret_status,
    variable_for,
)
from revops_pipelines.store import engine as store_engine


@click.group()
def config() -> None:
    """The environment's settings (REVOPS_ENV profile plus overrides)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(as_json: bool) -> None:
    """Print the active profile's settings, their sources, and the secrets' presence."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    profile = PROFILES[settings.env]
    rows = []
    for name, value in settings.public().items():
        variable = ENV_VAR if name == "env" else variable_for(name)
        if os.environ.get(variable):
            source = f"env {variable}"
        elif name in profile or name == "env":
            source = f"profile {settings.env}"
        else:
            source = "default"
        rows.append((name, "" if value is None else str(value), source))
    database = mask_url(store_engine.database_url())
    secrets = secret_status()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "env": settings.env,
                    "settings": {n: {"value": v, "source": s} for n, v, s in rows},
                    "database_url": database,
                    "secrets": secrets,
                },
                indent=2,
            )
        )
        return
    click.echo(f"REVOPS_ENV: {settings.env}")
    width = max(len(n) for n, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"  {name:<{width}}  {value:<24}  ({source})")
    click.echo(f"database: {database}")
    click.echo("secrets:")
    for name, state in secrets.items():
        click.echo(f"  {name:<{width}}  {state}")
