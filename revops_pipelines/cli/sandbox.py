"""`revops sandbox`: serve the local stand-ins of the outside APIs."""

from __future__ import annotations

import contextlib
import shlex
import threading

import click

from revops_pipelines.sandbox.stack import DEFAULT_PORTS, serve_sandboxes


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--attio-port", type=int, default=DEFAULT_PORTS["attio"], show_default=True, help="0 = any."
)
def sandbox(host: str, attio_port: int) -> None:
    """Serve the sandbox APIs and print the environment that points the project at them."""
    with serve_sandboxes(host, {"attio": attio_port}) as stack:
        for name, server in stack.servers.items():
            click.echo(f"# {name} sandbox on {server.url} (admin: {server.url}/_sandbox/stats)")
        for key, value in stack.environment().items():
            click.echo(f"export {key}={shlex.quote(value)}")
        click.echo("# Ctrl-C stops the sandboxes.", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
