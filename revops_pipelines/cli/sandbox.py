"""`revops sandbox`: serve the local stand-ins of the outside APIs, and load them lazily.

The stand-ins are the `revops-sandbox` distribution, an optional extra: `import_sandbox` imports
one of its modules only when a command needs it, so `revops --help` and every other command work
without it, and a command that needs it says how to install it instead of failing with a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import shlex
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from revops_pipelines.store.engine import state_dir

SANDBOX_PACKAGE = "revops_sandbox"
INSTALL_HINT = (
    "the sandbox stand-ins are not installed. Install them with `pip install ./revops_sandbox` "
    "(from the repository's top level) or `make install`."
)


def import_sandbox(module: str = SANDBOX_PACKAGE) -> ModuleType:
    """`revops_sandbox` (or one of its modules), or a ClickException saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or ""
        if missing == SANDBOX_PACKAGE or missing.startswith(f"{SANDBOX_PACKAGE}."):
            raise click.ClickException(INSTALL_HINT) from None
        # Installed, but one of its own dependencies is missing (e.g. cryptography).
        raise click.ClickException(
            f"the sandbox stand-ins cannot be imported ({exc}). Reinstall them with "
            "`pip install ./revops_sandbox` or `make install`."
        ) from None


def project_environment(stack: Any) -> dict[str, str]:
    """The variables that point this project's settings at the served stand-ins (the same ones
    production sets for the real services), from the stack's neutral endpoint descriptions."""
    e = stack.endpoints
    return {
        "ATTIO_API_KEY": e["attio"].credential,
        "ATTIO_BASE_URL": e["attio"].base_url,
        "SALESFORCE_INSTANCE_URL": e["salesforce"].base_url,
        "SALESFORCE_ACCESS_TOKEN": e["salesforce"].credential,
        **stack.trust_env,
        "SLACK_BOT_TOKEN": e["slack"].credential,
        "SLACK_API_BASE_URL": e["slack"].base_url,
        "ENRICHMENT_API_KEY": e["enrichment"].credential,
        "ENRICHMENT_BASE_URL": e["enrichment"].base_url,
        "OUTREACH_ACCESS_TOKEN": e["outreach"].credential,
        "OUTREACH_BASE_URL": e["outreach"].base_url,
        "OUTREACH_MAILBOX_ID": e["outreach"].extra["mailbox_id"],
        "SALESLOFT_API_KEY": e["salesloft"].credential,
        "SALESLOFT_BASE_URL": e["salesloft"].base_url,
    }


def sandbox_state_dir() -> Path:
    """The project's state directory's `sandbox/` (so REVOPS_STATE_DIR moves it too)."""
    return state_dir() / "sandbox"


PORT_HELP = "Default: the sandbox's own port. 0 = any free port."


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--attio-port", type=int, default=None, help=PORT_HELP)
@click.option(
    "--salesforce-port",
    type=int,
    default=None,
    help=f"HTTPS, with a throwaway CA under .revops/sandbox/tls. {PORT_HELP}",
)
@click.option("--slack-port", type=int, default=None, help=PORT_HELP)
@click.option(
    "--enrichment-port", type=int, default=None, help=f"Clearbit-format company API. {PORT_HELP}"
)
@click.option("--outreach-port", type=int, default=None, help=PORT_HELP)
@click.option("--salesloft-port", type=int, default=None, help=PORT_HELP)
@click.option(
    "--accounts", type=int, default=20_000, show_default=True, help="Salesforce org size."
)
def sandbox(
    host: str,
    attio_port: int | None,
    salesforce_port: int | None,
    slack_port: int | None,
    enrichment_port: int | None,
    outreach_port: int | None,
    salesloft_port: int | None,
    accounts: int,
) -> None:
    """Serve the sandbox APIs and print the environment that points the project at them.

    Needs the optional `revops-sandbox` distribution (`pip install ./revops_sandbox`)."""
    stack_module = import_sandbox(f"{SANDBOX_PACKAGE}.stack")
    chosen = {
        "attio": attio_port,
        "salesforce": salesforce_port,
        "slack": slack_port,
        "enrichment": enrichment_port,
        "outreach": outreach_port,
        "salesloft": salesloft_port,
    }
    ports = {name: port for name, port in chosen.items() if port is not None}
    with stack_module.serve_sandboxes(
        host, ports, state_dir=sandbox_state_dir(), salesforce_accounts=accounts
    ) as stack:
        for name, server in stack.servers.items():
            click.echo(f"# {name} sandbox on {server.url} (admin: {server.url}/_sandbox/stats)")
        for key, value in project_environment(stack).items():
            click.echo(f"export {key}={shlex.quote(value)}")
        click.echo("# Ctrl-C stops the sandboxes.", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
