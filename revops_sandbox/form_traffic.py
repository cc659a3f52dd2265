"""Synthetic, correctly signed form deliveries for the demo: Typeform and Tally formats, and
(`one_lead_per_source`) one lead each from Typeform, Tally, HubSpot and a custom form."""

from __future__ import annotations

import json
import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from revops_sandbox.signatures import tally_signature, typeform_signature


def _ascii(text: str) -> str:
    """ "Núñez" -> "nunez": email local parts stay ASCII, as most mail systems need."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "")


FIRST = ("Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Guido", "Sophie", "José", "Ngozi")
LAST = (
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "van Rossum",
    "Wilson",
    "Núñez",
    "Okonjo",
)
COMPANIES = (
    "analytical.example",
    "navy.example",
    "kernel.example",
    "apollo.example",
    "bell.example",
)


@dataclass(frozen=True)
class Delivery:
    source: str
    body: bytes
    headers: dict[str, str]


def typeform_delivery(secret: str, rng: random.Random) -> Delivery:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{_ascii(first)}.{_ascii(last.split()[-1])}@{rng.choice(COMPANIES)}"
    body = {
        "event_id": uuid.UUID(int=rng.getrandbits(128)).hex[:10],
        "event_type": "form_response",
        "form_response": {
            "form_id": "demo01",
            "token": uuid.UUID(int=rng.getrandbits(128)).hex,
            "submitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "definition": {
                "id": "demo01",
                "title": "Talk to sales",
                "fields": [
                    {"id": "f_name", "ref": "name", "type": "short_text", "title": "Your name?"},
                    {"id": "f_email", "ref": "email", "type": "email", "title": "Work email?"},
                    {
                        "id": "f_msg",
                        "ref": "message",
                        "type": "long_text",
                        "title": "How can we help?",
                    },
                ],
            },
            "answers": [
                {
                    "type": "text",
                    "text": f"{first} {last}",
                    "field": {"id": "f_name", "type": "short_text", "ref": "name"},
                },
                {
                    "type": "email",
                    "email": email,
                    "field": {"id": "f_email", "type": "email", "ref": "email"},
                },
                {
                    "type": "text",
                    "text": "We would like a demo for our revenue team.",
                    "field": {"id": "f_msg", "type": "long_text", "ref": "message"},
                },
            ],
        },
    }
    raw = json.dumps(body).encode()
    return Delivery(
        "typeform",
        raw,
        {"Typeform-Signature": typeform_signature(secret, raw), "Content-Type": "application/json"},
    )


def tally_delivery(secret: str, rng: random.Random) -> Delivery:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{_ascii(first[0])}{_ascii(last.split()[-1])}@{rng.choice(COMPANIES)}"
    body = {
        "eventId": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventType": "FORM_RESPONSE",
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {
            "responseId": uuid.UUID(int=rng.getrandbits(128)).hex[:7],
            "submissionId": uuid.UUID(int=rng.getrandbits(128)).hex[:7],
            "respondentId": uuid.UUID(int=rng.getrandbits(128)).hex[:6],
            "formId": "demoTl",
            "formName": "Partner enquiry",
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "fields": [
                {
                    "key": "question_name",
                    "label": "Full Name",
                    "type": "INPUT_TEXT",
                    "value": f"{first} {last}",
                },
                {
                    "key": "question_email",
                    "label": "Email Address",
                    "type": "INPUT_EMAIL",
                    "value": email,
                },
                {
                    "key": "question_msg",
                    "label": "Message",
                    "type": "TEXTAREA",
                    "value": "Partnership enquiry.",
                },
            ],
        },
    }
    raw = json.dumps(body).encode()
    return Delivery(
        "tally",
        raw,
        {"Tally-Signature": tally_signature(secret, raw), "Content-Type": "application/json"},
    )


def sample_deliveries(secrets: dict[str, str], count: int, seed: int = 0) -> list[Delivery]:
    rng = random.Random(seed)
    makers = [(typeform_delivery, secrets["typeform"]), (tally_delivery, secrets["tally"])]
    return [makers[i % 2][0](makers[i % 2][1], rng) for i in range(count)]


def one_lead_per_source(
    secrets: dict[str, str], receiver_url: str, custom_form: str, seed: int = 0
) -> list[tuple[str, Delivery]]:
    """(path, delivery) of one signed lead from each source: Typeform, Tally, a HubSpot
    workflow webhook (signed v3 for `<receiver_url>/webhooks/hubspot`) and the custom form
    `custom_form` (Standard Webhooks under `secrets[custom_form]`)."""
    from revops_sandbox.custom_forms import contact_form_payload, form_delivery
    from revops_sandbox.hubspot import hubspot_delivery

    rng = random.Random(seed)
    hubspot_url = f"{receiver_url}/webhooks/hubspot"
    return [
        ("/webhooks/typeform", typeform_delivery(secrets["typeform"], rng)),
        ("/webhooks/tally", tally_delivery(secrets["tally"], rng)),
        ("/webhooks/hubspot", hubspot_delivery(secrets["hubspot"], hubspot_url, rng)),
        (
            f"/webhooks/forms/{custom_form}",
            form_delivery(custom_form, [secrets[custom_form]], contact_form_payload(rng)),
        ),
    ]
