"""A faithful local stand-in of the Salesforce REST API, served over HTTPS.

sb = SalesforceSandbox(accounts=2000, seed=0, now=datetime(2026, 11, 20, tzinfo=UTC))
with serve_salesforce_sandbox(sb, tls_dir) as (server, tls):
    # clients: instance_url=server.url, access token sb.access_token, trust tls.ca_path
    ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from revops_sandbox.salesforce.model import Fault
from revops_sandbox.salesforce.sandbox import SalesforceSandbox
from revops_sandbox.salesforce.tls import (
    TlsMaterial,
    ensure_tls_material,
    generate_tls_material,
)
from revops_sandbox.server import RunningServer, serve_in_thread

__all__ = [
    "Fault",
    "RunningServer",
    "SalesforceSandbox",
    "TlsMaterial",
    "ensure_tls_material",
    "generate_tls_material",
    "serve_salesforce_sandbox",
]


@contextmanager
def serve_salesforce_sandbox(
    sandbox: SalesforceSandbox,
    tls_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[tuple[RunningServer, TlsMaterial]]:
    """Serve `sandbox` over HTTPS on `host:port` with the throwaway CA kept in `tls_dir`."""
    tls = ensure_tls_material(tls_dir)
    with serve_in_thread(
        sandbox.app,
        host=host,
        port=port,
        ssl_certfile=str(tls.cert_path),
        ssl_keyfile=str(tls.key_path),
    ) as server:
        yield server, tls
