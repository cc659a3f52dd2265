"""All sandbox stand-ins together: what `revops sandbox` and `revops demo` serve.

Each stand-in is served on its own loopback port. `SandboxStack.endpoints` says, per service, what
a client of the real service would be configured with (base URL, credential, and for Salesforce
the CA bundle that trusts its throwaway TLS authority); mapping that onto a project's settings is
the project's business. Files the stand-ins keep (that TLS authority) live in the sandbox's own
state directory: `state_dir=`, else `$REVOPS_SANDBOX_DIR`, else `.revops/sandbox` under the
working directory.
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
    "salesloft": 8715,
}
SANDBOX_MAILBOX_ID = "1"  # the seeded sdr-team@revops.example mailbox
STATE_DIR_ENV = "REVOPS_SANDBOX_DIR"


def default_state_dir() -> Path:
    """`$REVOPS_SANDBOX_DIR`, else `.revops/sandbox` under the working directory."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".revops" / "sandbox")


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches one stand-in, as it would reach the real service."""

    base_url: str  # what the vendor's client takes as its API base (e.g. Attio's `.../v2`)
    credential: str  # API key or bearer token
    extra: dict[str, str] = field(default_factory=dict)  # ca_bundle, mailbox_id, ...


@dataclass
class SandboxStack:
    servers: dict[str, RunningServer] = field(default_factory=dict)
    apps: dict[str, object] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    # Variables any HTTP client process sets to trust the Salesforce stand-in's TLS authority
    # (requests' REQUESTS_CA_BUNDLE, OpenSSL's SSL_CERT_FILE): generic, not a project's settings.
    trust_env: dict[str, str] = field(default_factory=dict)


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
        stack.endpoints["attio"] = Endpoint(f"{server.url}/v2", ATTIO_SANDBOX_KEY)

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
        stack.endpoints["salesforce"] = Endpoint(
            sf_server.url, salesforce.access_token, {"ca_bundle": str(tls.bundle_path)}
        )
        stack.trust_env = tls.env()
        _serve_lead_services(stack, exits, host, chosen)
        yield stack


def _serve_lead_services(
    stack: SandboxStack, exits: ExitStack, host: str, ports: dict[str, int]
) -> None:
    """Slack, the enrichment API, Outreach and Salesloft: the outside systems of the inbound
    lead flow."""
    from revops_sandbox.enrichment import ENRICHMENT_SANDBOX_KEY, EnrichmentSandbox
    from revops_sandbox.outreach import OUTREACH_SANDBOX_TOKEN, OutreachSandbox
    from revops_sandbox.salesloft import SALESLOFT_SANDBOX_TOKEN, SalesloftSandbox
    from revops_sandbox.slack import SLACK_SANDBOX_TOKEN, SlackSandbox

    sandboxes = {
        "slack": SlackSandbox(),
        "enrichment": EnrichmentSandbox(),
        "outreach": OutreachSandbox(),
        "salesloft": SalesloftSandbox(),
    }
    for name, sandbox in sandboxes.items():
        stack.apps[name] = sandbox
        stack.servers[name] = exits.enter_context(
            serve_in_thread(sandbox.app, host=host, port=ports[name])
        )
    urls = {name: server.url for name, server in stack.servers.items()}
    stack.endpoints |= {
        "slack": Endpoint(f"{urls['slack']}/api/", SLACK_SANDBOX_TOKEN),
        "enrichment": Endpoint(urls["enrichment"], ENRICHMENT_SANDBOX_KEY),
        "outreach": Endpoint(
            f"{urls['outreach']}/api/v2", OUTREACH_SANDBOX_TOKEN, {"mailbox_id": SANDBOX_MAILBOX_ID}
        ),
        "salesloft": Endpoint(f"{urls['salesloft']}/v2", SALESLOFT_SANDBOX_TOKEN),
    }
