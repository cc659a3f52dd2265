"""All sandbox stand-ins together: what `revops sandbox` and `revops demo` serve.

Each stand-in is served on its own loopback port; `environment()` is what points the project at
them (the same variables production sets to the real services).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from revops_pipelines.sandbox.server import RunningServer, serve_in_thread

ATTIO_SANDBOX_KEY = "sandbox-attio-key"
DEFAULT_PORTS = {"attio": 8710}


@dataclass
class SandboxStack:
    servers: dict[str, RunningServer] = field(default_factory=dict)
    apps: dict[str, object] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if "attio" in self.servers:
            env["ATTIO_API_KEY"] = ATTIO_SANDBOX_KEY
            env["ATTIO_BASE_URL"] = f"{self.servers['attio'].url}/v2"
        return env


@contextmanager
def serve_sandboxes(
    host: str = "127.0.0.1", ports: dict[str, int] | None = None
) -> Iterator[SandboxStack]:
    """Serve every stand-in until the block exits (port 0 picks a free port)."""
    from revops_pipelines.sandbox.attio import AttioSandbox

    chosen = {**DEFAULT_PORTS, **(ports or {})}
    stack = SandboxStack()
    with ExitStack() as exits:
        attio = AttioSandbox(api_keys=(ATTIO_SANDBOX_KEY,))
        stack.apps["attio"] = attio
        stack.servers["attio"] = exits.enter_context(
            serve_in_thread(attio.app, host=host, port=chosen["attio"])
        )
        yield stack
