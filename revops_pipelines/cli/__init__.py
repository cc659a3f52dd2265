"""The `revops` command line: database, sandbox, Attio set-up, webhook receiver, routing."""

from __future__ import annotations

import click

from revops_pipelines.cli.db import db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="revops-pipelines")
def app() -> None:
    """revops-pipelines: revenue-operations automation on Dagster."""


app.add_command(db)
