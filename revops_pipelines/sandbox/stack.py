"""All sandbox stand-ins together: what `revops sandbox` and `revops demo` serve.

Each stand-in is served on its own loopback port; `environment()` is what points the project at
them (the same variables production sets for the real services).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from revops_pipelines.sandbox.server import RunningServer, serve_in_thread
from revops_pipelines.store.engine import state_dir

ATTIO_SANDBOX_KEY = "sandbox-attio-key"
DEFAULT_PORTS = {"attio": 8710, "salesforce": 8711}


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
    tls_dir: Path | None = None,
    salesforce_accounts: int = 20_000,
) -> Iterator[SandboxStack]:
    """Serve every stand-in until the block exits (port 0 picks a free port)."""
    from revops_pipelines.sandbox.attio import AttioSandbox
    from revops_pipelines.sandbox.salesforce import SalesforceSandbox, serve_salesforce_sandbox

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
                tls_dir or state_dir() / "sandbox-tls",
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
        yield stack
