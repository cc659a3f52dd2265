"""A stand-in for a HubSpot workflow's "Send a webhook" action (integrations.md §1.2, §1.5).

It builds the enrolled contact as the legacy v1 contact profile (`vid`, `canonical-vid`,
`portal-id`, `properties.<name>.value`/`versions`, `identity-profiles`, `form-submissions[]` with
`conversion-id`, `timestamp` in epoch ms, `form-id`, `page-url`, `title`) — the shape the docs'
wording suggests (UNCONFIRMED) — and signs it the way HubSpot signs requests: v3 by default
(`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp`), or only v2/v1 with
`X-HubSpot-Signature-Version`. `send` posts it like HubSpot does, retrying on 429 and 5xx and
never after another 4xx (§1.2 retry rules, compressed into seconds for tests).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from revops_sandbox.form_traffic import COMPANIES, FIRST, LAST, Delivery, _ascii
from revops_sandbox.signatures import (
    hubspot_signature_v1,
    hubspot_signature_v2,
    hubspot_signature_v3,
)

PORTAL_ID = 62515
DEMO_FORM_ID = "b844ad5e-8a5c-4c7e-a9f7-6c1e2d3f4a5b"


@dataclass(frozen=True)
class Contact:
    vid: int
    email: str
    first_name: str
    last_name: str
    company: str
    message: str


def random_contact(rng: random.Random) -> Contact:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    domain = rng.choice(COMPANIES)
    return Contact(
        vid=rng.randrange(1_000_000, 9_999_999),
        email=f"{_ascii(first)}.{_ascii(last.split()[-1])}@{domain}",
        first_name=first,
        last_name=last,
        company=domain.split(".")[0].title(),
        message="Please get in touch about pricing.",
    )


def _prop(value: str, at_ms: int) -> dict[str, Any]:
    version = {"value": value, "source-type": "FORM", "timestamp": at_ms, "selected": False}
    return {"value": value, "versions": [version]}


def contact_payload(
    contact: Contact,
    submissions: list[tuple[str, int]],
    *,
    form_id: str = DEMO_FORM_ID,
    title: str = "Contact sales",
) -> dict[str, Any]:
    """The v1 contact profile with one `form-submissions` entry per (conversion id, ms)."""
    latest = max((at for _, at in submissions), default=int(time.time() * 1000))
    return {
        "vid": contact.vid,
        "canonical-vid": contact.vid,
        "merged-vids": [],
        "portal-id": PORTAL_ID,
        "is-contact": True,
        "properties": {
            "email": _prop(contact.email, latest),
            "firstname": _prop(contact.first_name, latest),
            "lastname": _prop(contact.last_name, latest),
            "company": _prop(contact.company, latest),
            "message": _prop(contact.message, latest),
            "lastmodifieddate": _prop(str(latest), latest),
        },
        "form-submissions": [
            {
                "conversion-id": conversion,
                "timestamp": at,
                "form-id": form_id,
                "portal-id": PORTAL_ID,
                "page-url": "https://www.example.com/contact",
                "title": title,
                "form-type": "HUBSPOT",
                "meta-data": [],
            }
            for conversion, at in submissions
        ],
        "identity-profiles": [
            {
                "vid": contact.vid,
                "identities": [{"type": "EMAIL", "value": contact.email, "timestamp": latest}],
            }
        ],
    }


def signed_headers(
    secret: str,
    url: str,
    body: bytes,
    *,
    version: str = "v3",
    timestamp_ms: int | None = None,
    method: str = "POST",
) -> dict[str, str]:
    """The headers HubSpot sends with `body` posted to `url`, signed as `version`."""
    headers = {"Content-Type": "application/json", "User-Agent": "HubSpot Connect 2.0"}
    headers["X-HubSpot-Correlation-Id"] = str(uuid.uuid4())
    if version == "v3":
        stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        headers["X-HubSpot-Signature-v3"] = hubspot_signature_v3(secret, method, url, body, stamp)
        headers["X-HubSpot-Request-Timestamp"] = str(stamp)
    elif version == "v2":
        headers["X-HubSpot-Signature"] = hubspot_signature_v2(secret, method, url, body)
        headers["X-HubSpot-Signature-Version"] = "v2"
    elif version == "v1":
        headers["X-HubSpot-Signature"] = hubspot_signature_v1(secret, body)
        headers["X-HubSpot-Signature-Version"] = "v1"
    else:
        raise ValueError(f"unknown HubSpot signature version {version!r}")
    return headers


def hubspot_delivery(secret: str, url: str, rng: random.Random, *, version: str = "v3") -> Delivery:
    """One signed workflow webhook for a new form fill by a random contact."""
    contact = random_contact(rng)
    now = int(time.time() * 1000)
    older = (str(uuid.UUID(int=rng.getrandbits(128))), now - 86_400_000)
    newest = (str(uuid.UUID(int=rng.getrandbits(128))), now)
    body = json.dumps(contact_payload(contact, [older, newest])).encode()
    return Delivery("hubspot", body, signed_headers(secret, url, body, version=version))


def send(
    url: str, delivery: Delivery, *, attempts: int = 5, pause_seconds: float = 0.2
) -> httpx.Response:
    """POST like HubSpot: retried on connection errors, 429 and 5xx; never after another 4xx."""
    response: httpx.Response | None = None
    headers = dict(delivery.headers)
    for attempt in range(attempts):
        try:
            response = httpx.post(url, content=delivery.body, headers=headers, timeout=30.0)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code < 500 and response.status_code != 429:
            return response
        if attempt + 1 < attempts:
            time.sleep(pause_seconds * (2**attempt))
    if response is None:
        raise httpx.ConnectError(f"could not deliver to {url}")
    return response
