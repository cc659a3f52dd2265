"""`revops sandbox`: serve the local stand-ins of the outside APIs."""

from __future__ import annotations

import contextlib
import shlex
import threading

import click

from revops_sandbox.stack import DEFAULT_PORTS, serve_sandboxes


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--attio-port", type=int, default=DEFAULT_PORTS["attio"], show_default=True, help="0 = any."
)
@click.option(
    "--salesforce-port",
    type=int,
    default=DEFAULT_PORTS["salesforce"],
    show_default=True,
    help="HTTPS, with a throwaway CA under .revops/sandbox-tls.",
)
@click.option(
    "--slack-port", type=int, default=DEFAULT_PORTS["slack"], show_default=True, help="0 = any."
)
@click.option(
    "--enrichment-port",
    type=int,
    default=DEFAULT_PORTS["enrichment"],
    show_default=True,
    help="Clearbit-format company API. 0 = any.",
)
@click.option(
    "--outreach-port",
    type=int,
    default=DEFAULT_PORTS["outreach"],
    show_default=True,
    help="0 = any.",
)
@click.option(
    "--accounts", type=int, default=20_000, show_default=True, help="Salesforce org size."
)
def sandbox(
    host: str,
    attio_port: int,
    salesforce_port: int,
    slack_port: int,
    enrichment_port: int,
    outreach_port: int,
    accounts: int,
) -> None:
    """Serve the sandbox APIs and print the environment that points the project at them."""
    ports = {
        "attio": attio_port,
        "salesforce": salesforce_port,
        "slack": slack_port,
        "enrichment": enrichment_port,
        "outreach": outreach_port,
    }
    with serve_sandboxes(host, ports, salesforce_accounts=accounts) as stack:
        for name, server in stack.servers.items():
            click.echo(f"# {name} sandbox on {server.url} (admin: {server.url}/_sandbox/stats)")
        for key, value in stack.environment().items():
            click.echo(f"export {key}={shlex.quote(value)}")
        click.echo("# Ctrl-C stops the sandboxes.", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
