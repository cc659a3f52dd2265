"""A stand-in for a custom web form that posts its submissions as Standard Webhooks
(integrations.md §2): `webhook-id` (the same on every retry), `webhook-timestamp` (Unix seconds
of the attempt), `webhook-signature` (`v1,` signatures, one per active secret), a JSON body."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from typing import Any

from revops_sandbox.form_traffic import FIRST, LAST, Delivery, _ascii
from revops_sandbox.signatures import standard_webhooks_signature


def new_secret(rng: random.Random) -> str:
    """A `whsec_` secret of 32 random bytes (the spec asks for 24 to 64)."""
    return "whsec_" + base64.b64encode(rng.randbytes(32)).decode("ascii")


def contact_form_payload(rng: random.Random) -> dict[str, Any]:
    """A submission of the demo `contact_us` form (the shape its forms.yaml mapping reads): a
    prospect of a small European company (the enrichment stand-in's Acme Corp: Paris, 48
    employees, retail) with a UK phone, so the demo has a lead for a pool of the EMEA region
    rather than another one for the enterprise or default pools."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{_ascii(first)}.{_ascii(last.split()[-1])}@acme.example",
        "company": "Acme Corp",
        "message": "Can we see a demo?",
        "phone": "+44 20 7946 0958",
        "consent": {"marketing": True},
        "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def form_delivery(
    form: str,
    secrets: list[str],
    payload: dict[str, Any],
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> Delivery:
    """One signed delivery of `payload` (re-signing with the same `msg_id` is a retry)."""
    body = json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(secrets, msg_id, stamp, body),
    }
    return Delivery(f"forms/{form}", body, headers)
