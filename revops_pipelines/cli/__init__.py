"""The `revops` command line: database, sandbox, Attio set-up, webhook receiver, routing."""

from __future__ import annotations

import click

from revops_pipelines.cli.attio import attio
from revops_pipelines.cli.config import config
from revops_pipelines.cli.db import db
from revops_pipelines.cli.demo import demo
from revops_pipelines.cli.routing import routing
from revops_pipelines.cli.sandbox import sandbox
from revops_pipelines.cli.webhooks import webhooks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="revops-pipelines")
def app() -> None:
    """revops-pipelines: revenue-operations automation on Dagster."""


app.add_command(attio)
app.add_command(config)
app.add_command(db)
app.add_command(demo)
app.add_command(routing)
app.add_command(sandbox)
app.add_command(webhooks)
