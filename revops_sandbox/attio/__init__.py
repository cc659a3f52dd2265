"""A local, faithful stand-in for the Attio REST API v2 (see /work/shared/reference/attio-api.md).

sb = AttioSandbox(api_keys=("sandbox-attio-key",), schema="full")
with serve_in_thread(sb.app) as server:
    httpx.get(f"{server.url}/v2/objects", headers={"Authorization": "Bearer sandbox-attio-key"})
"""

from revops_sandbox.attio.limits import FAULT_KINDS
from revops_sandbox.attio.sandbox import AttioSandbox

__all__ = ["FAULT_KINDS", "AttioSandbox"]
