"""A lead's records and activities in Attio: company, person, owner, list entry, task, note.

Companies and people are asserted on their unique keys (domains, email addresses), so they are
written once by construction. Tasks and notes have no unique key: `services/leads/flow.py` runs
them through the effect ledger with the `find_*` functions below as the look-before-resend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from revops_pipelines.domain.attio_values import first_value, record_id
from revops_pipelines.domain.enrichment_fill import FillPolicy, fill_values
from revops_pipelines.domain.leads import Lead
from revops_pipelines.resources.attio.client import AttioClient


@dataclass(frozen=True)
class CompanyFacts:
    """What routing may read from the company Attio already knows (synced from Salesforce)."""

    record_id: str | None
    employee_count: float | None
    industry: str | None
    country: str | None
    filled: tuple[str, ...] = ()  # attributes enrichment filled on this assert


async def assert_company(
    client: AttioClient, lead: Lead, policy: FillPolicy | None = None
) -> CompanyFacts:
    """The lead's company by domain: an existing one is used as it is (a synced company's name
    beats what someone typed in a form); a new one is created with the best name we have and
    the description "Inbound from <source>". With `policy`, enriched facts fill the company's
    empty attributes (never the Salesforce sync's), in the same update."""
    if not lead.company_domain:
        return CompanyFacts(None, None, None, lead.country)
    found = [
        r
        async for r in client.records.query(
            "companies", filter={"domains": lead.company_domain}, page_size=1, limit=1
        )
    ]
    created = not found
    if found:
        company = found[0]
    else:
        name = lead.enrichment.get("name") or lead.company_name or lead.company_domain
        company = await client.records.assert_record(
            "companies",
            matching_attribute="domains",
            values={"domains": [lead.company_domain], "name": name},
        )
    values = fill_values(company, lead.enrichment, policy) if policy else {}
    filled = tuple(values)
    # Written apart from the assert and only when still empty: a company someone created
    # between our query and the assert keeps its own description. The seed's "Inbound from
    # <source>" is a new company's description, before an enriched one.
    if created and not first_value(company, "description"):
        values["description"] = inbound_description(lead)
        filled = tuple(k for k in filled if k != "description")
    if values:
        company = await client.records.update("companies", record_id(company), values)
    option = first_value(company, "industry", "option")
    employees = first_value(company, "employee_count")
    return CompanyFacts(
        record_id=record_id(company),
        employee_count=employees if employees is not None else lead.enrichment.get("employees"),
        industry=option.get("title") if option else lead.enrichment.get("industry"),
        country=first_value(company, "primary_location", "country_code") or lead.country,
        filled=filled,
    )


def inbound_description(lead: Lead) -> str:
    """The description of a company a lead created (the seed's "Inbound from <source>")."""
    return f"Inbound from {SOURCE_TITLES.get(lead.source, lead.source)}"


SOURCE_TITLES = {"typeform": "Typeform", "tally": "Tally", "hubspot": "HubSpot"}


def person_values(lead: Lead, company_id: str | None) -> dict[str, Any]:
    """The person's attributes from the lead: `lead_source` is the tool (or the custom form's
    key), `form_id` the form, `form_submission_date` the day it was submitted (UTC)."""
    values: dict[str, Any] = {
        "email_addresses": [lead.email],
        "lead_source": lead.source,
        "form_id": lead.form_id,
        "form_submission_date": lead.submitted_at.astimezone(UTC).date().isoformat(),
    }
    if lead.first_name:
        last = lead.last_name or ""
        full = f"{lead.first_name} {last}".strip()
        # Attio's personal-name object needs all three keys.
        values["name"] = {"first_name": lead.first_name, "last_name": last, "full_name": full}
    if company_id:
        values["company"] = [{"target_object": "companies", "target_record_id": company_id}]
    if lead.job_title:
        values["job_title"] = lead.job_title
    if lead.region:
        values["region"] = lead.region
    return values


async def assert_person(client: AttioClient, lead: Lead, company_id: str | None) -> dict[str, Any]:
    """The person by email, linked to the company (asserting again changes nothing)."""
    return await client.records.assert_record(
        "people", matching_attribute="email_addresses", values=person_values(lead, company_id)
    )


async def set_owner(client: AttioClient, person_id: str, rep_email: str, reason: str) -> None:
    await client.records.update(
        "people",
        person_id,
        {"owner": {"workspace_member_email_address": rep_email}, "routing_reason": reason},
    )


async def member_id_by_email(client: AttioClient, email: str) -> str | None:
    for member in await client.workspace.members():
        if (member.get("email_address") or "").lower() == email.lower():
            return str(member["id"]["workspace_member_id"])
    return None


async def find_task(
    client: AttioClient, person_id: str, content: str, since: datetime | None
) -> dict[str, Any] | None:
    """A task on the person with this content, created since the effect started."""
    async for task in client.tasks.list(linked_object="people", linked_record_id=person_id):
        if task.get("content_plaintext") != content:
            continue
        if since is None or _parse(task.get("created_at")) >= since:
            return task
    return None


async def find_note(client: AttioClient, person_id: str, title: str) -> dict[str, Any] | None:
    async for note in client.notes.list(parent_object="people", parent_record_id=person_id):
        if note.get("title") == title:
            return note
    return None


def _parse(value: Any) -> datetime:
    text = str(value or "1970-01-01T00:00:00Z")
    # Attio's nanosecond timestamps: keep microseconds, which datetime can hold.
    head, _, tail = text.partition(".")
    text = f"{head}.{tail.rstrip('Z')[:6]}+00:00" if tail else text.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
