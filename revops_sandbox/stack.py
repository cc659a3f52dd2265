"""All sandbox stand-ins together: what `revops sandbox` and `revops demo` serve.

Each stand-in is served on its own loopback port; `environment()` is what points the project at
them (the same variables production sets for the real services). Files the stand-ins keep (the
Salesforce stand-in's throwaway TLS authority) live in the sandbox's own state directory:
`state_dir=`, else `$REVOPS_SANDBOX_DIR`, else `.revops/sandbox` under the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from revops_sandbox.server import RunningServer, serve_in_thread

ATTIO_SANDBOX_KEY = "sandbox-attio-key"
DEFAULT_PORTS = {
    "attio": 8710,
    "salesforce": 8711,
    "slack": 8712,
    "enrichment": 8713,
    "outreach": 8714,
}
SANDBOX_MAILBOX_ID = "1"  # the seeded sdr-team@revops.example mailbox
STATE_DIR_ENV = "REVOPS_SANDBOX_DIR"


def default_state_dir() -> Path:
    """`$REVOPS_SANDBOX_DIR`, else `.revops/sandbox` under the working directory."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".revops" / "sandbox")


@dataclass
class SandboxStack:
    servers: dict[str, RunningServer] = field(default_factory=dict)
    apps: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return dict(self.env)


@contextmanager
def serve_sandboxes(
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
    *,
    state_dir: Path | None = None,
    tls_dir: Path | None = None,
    salesforce_accounts: int = 20_000,
) -> Iterator[SandboxStack]:
    """Serve every stand-in until the block exits (port 0 picks a free port).

    `tls_dir` defaults to `tls/` in the state directory (see the module docstring)."""
    from revops_sandbox.attio import AttioSandbox
    from revops_sandbox.salesforce import SalesforceSandbox, serve_salesforce_sandbox

    chosen = {**DEFAULT_PORTS, **(ports or {})}
    stack = SandboxStack()
    with ExitStack() as exits:
        attio = AttioSandbox(api_keys=(ATTIO_SANDBOX_KEY,))
        stack.apps["attio"] = attio
        server = exits.enter_context(serve_in_thread(attio.app, host=host, port=chosen["attio"]))
        stack.servers["attio"] = server
        stack.env |= {"ATTIO_API_KEY": ATTIO_SANDBOX_KEY, "ATTIO_BASE_URL": f"{server.url}/v2"}

        salesforce = SalesforceSandbox(accounts=salesforce_accounts)
        stack.apps["salesforce"] = salesforce
        sf_server, tls = exits.enter_context(
            serve_salesforce_sandbox(
                salesforce,
                tls_dir or (state_dir or default_state_dir()) / "tls",
                host=host,
                port=chosen["salesforce"],
            )
        )
        stack.servers["salesforce"] = sf_server
        stack.env |= {
            "SALESFORCE_INSTANCE_URL": sf_server.url,
            "SALESFORCE_ACCESS_TOKEN": salesforce.access_token,
            **tls.env(),
        }
        _serve_lead_services(stack, exits, host, chosen)
        yield stack


def _serve_lead_services(
    stack: SandboxStack, exits: ExitStack, host: str, ports: dict[str, int]
) -> None:
    """Slack, the enrichment API and Outreach: the outside systems of the inbound lead flow."""
    from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY, EnrichmentSandbox
    from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN, OutreachSandbox
    from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox

    sandboxes = {
        "slack": SlackSandbox(),
        "enrichment": EnrichmentSandbox(),
        "outreach": OutreachSandbox(),
    }
    for name, sandbox in sandboxes.items():
        stack.apps[name] = sandbox
        stack.servers[name] = exits.enter_context(
            serve_in_thread(sandbox.app, host=host, port=ports[name])
        )
    stack.env |= {
        "SLACK_BOT_TOKEN": SLACK_SANDBOX_TOKEN,
        "SLACK_API_BASE_URL": f"{stack.servers['slack'].url}/api/",
        "ENRICHMENT_API_KEY": ENRICHMENT_SANDBOX_KEY,
        "ENRICHMENT_BASE_URL": stack.servers["enrichment"].url,
        "OUTREACH_ACCESS_TOKEN": OUTREACH_SANDBOX_TOKEN,
        "OUTREACH_BASE_URL": f"{stack.servers['outreach'].url}/api/v2",
        "OUTREACH_MAILBOX_ID": SANDBOX_MAILBOX_ID,
    }
