"""The Attio workspace schema the project expects, and the plan that brings a workspace to it.

`revops attio setup` reads the workspace, calls `plan_schema`, and applies the plan; `revops attio
check` only prints it. Attio's standard attributes are listed so a missing or retyped one is
reported; only custom attributes and lists are ever created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AttributeSpec:
    object: str
    api_slug: str
    title: str
    type: str
    is_multiselect: bool = False
    standard: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    options: tuple[str, ...] = ()

    def create_body(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": f"Managed by revops-pipelines ({self.api_slug}).",
            "api_slug": self.api_slug,
            "type": self.type,
            "is_required": False,
            "is_unique": False,
            "is_multiselect": self.is_multiselect,
            "config": self.config,
        }


@dataclass(frozen=True)
class ListSpec:
    api_slug: str
    name: str
    parent_object: str

    def create_body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "api_slug": self.api_slug,
            "parent_object": self.parent_object,
            "workspace_access": "full-access",
            "workspace_member_access": [],
        }


DEFAULT_INDUSTRIES = (
    "Technology",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Media",
    "Energy",
    "Other",
)

EXPECTED_ATTRIBUTES: tuple[AttributeSpec, ...] = (
    AttributeSpec("companies", "name", "Name", "text", standard=True),
    AttributeSpec("companies", "domains", "Domains", "domain", is_multiselect=True, standard=True),
    AttributeSpec("companies", "description", "Description", "text", standard=True),
    AttributeSpec("companies", "primary_location", "Primary location", "location", standard=True),
    AttributeSpec("companies", "salesforce_id", "Salesforce ID", "text"),
    AttributeSpec("companies", "industry", "Industry", "select", options=DEFAULT_INDUSTRIES),
    AttributeSpec("companies", "employee_count", "Employee count", "number"),
    AttributeSpec(
        "companies",
        "annual_revenue",
        "Annual revenue",
        "currency",
        config={"currency": {"default_currency_code": "USD", "display_type": "code"}},
    ),
    AttributeSpec("people", "name", "Name", "personal-name", standard=True),
    AttributeSpec(
        "people",
        "email_addresses",
        "Email addresses",
        "email-address",
        is_multiselect=True,
        standard=True,
    ),
    AttributeSpec("people", "company", "Company", "record-reference", standard=True),
    AttributeSpec("people", "job_title", "Job title", "text", standard=True),
    AttributeSpec("people", "lead_source", "Lead source", "text"),
    AttributeSpec("people", "region", "Region", "text"),
    AttributeSpec("people", "owner", "Owner", "actor-reference"),
    AttributeSpec("people", "routing_reason", "Routing reason", "text"),
    # Flow C: a completed follow-up task sets the first touch; notes and comments the activity.
    AttributeSpec("people", "first_touched_at", "First touched", "timestamp"),
    AttributeSpec("people", "last_activity_at", "Last activity", "timestamp"),
    AttributeSpec("companies", "last_activity_at", "Last activity", "timestamp"),
    # The seed's lead attributes (issue 13): the form, when it was submitted, when it was assigned.
    AttributeSpec("people", "form_id", "Form ID", "text"),
    AttributeSpec("people", "form_submission_date", "Form submission date", "date"),
    AttributeSpec("people", "assigned_date", "Assigned date", "date"),
    *(
        AttributeSpec(obj, slug, title, type_)
        for obj in ("companies", "people")
        for slug, title, type_ in (
            ("last_seen_at", "Last seen", "timestamp"),
            ("active_days_7", "Active days (7 d)", "number"),
            ("active_days_30", "Active days (30 d)", "number"),
            ("top_events", "Top events", "text"),
        )
    ),
    AttributeSpec("deals", "name", "Deal name", "text", standard=True),
    AttributeSpec("deals", "stage", "Deal stage", "status", standard=True),
    AttributeSpec("deals", "value", "Deal value", "currency", standard=True),
    AttributeSpec(
        "deals", "associated_company", "Associated company", "record-reference", standard=True
    ),
    AttributeSpec("deals", "owner", "Deal owner", "actor-reference", standard=True),
)

EXPECTED_LISTS: tuple[ListSpec, ...] = (
    ListSpec("inbound_leads", "Inbound leads", "people"),
    ListSpec("enterprise_pipeline", "Enterprise pipeline", "people"),
    ListSpec("partner_leads", "Partner leads", "people"),
    ListSpec("sales_pipeline", "Sales pipeline", "companies"),
)


@dataclass
class SchemaPlan:
    create_attributes: list[AttributeSpec] = field(default_factory=list)
    create_options: list[tuple[AttributeSpec, str]] = field(default_factory=list)
    create_lists: list[ListSpec] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.create_attributes or self.create_options or self.create_lists)

    def describe(self) -> list[str]:
        lines = [
            f"create attribute {a.object}.{a.api_slug} ({a.type})" for a in self.create_attributes
        ]
        lines += [f"create option {a.object}.{a.api_slug} = {t!r}" for a, t in self.create_options]
        lines += [f"create list {s.api_slug} (parent {s.parent_object})" for s in self.create_lists]
        lines += [f"problem: {p}" for p in self.problems]
        return lines


def plan_schema(
    attributes_by_object: dict[str, list[dict[str, Any]] | None],
    options_by_attribute: dict[tuple[str, str], list[dict[str, Any]]],
    lists: list[dict[str, Any]],
    expected_attributes: tuple[AttributeSpec, ...] = EXPECTED_ATTRIBUTES,
    expected_lists: tuple[ListSpec, ...] = EXPECTED_LISTS,
) -> SchemaPlan:
    """What to create, and what cannot be fixed automatically. `None` marks a missing object."""
    plan = SchemaPlan()
    for spec in expected_attributes:
        actual_attributes = attributes_by_object.get(spec.object)
        if actual_attributes is None:
            problem = f"object {spec.object!r} is not enabled in the workspace"
            if problem not in plan.problems:
                plan.problems.append(problem)
            continue
        actual = next((a for a in actual_attributes if a.get("api_slug") == spec.api_slug), None)
        if actual is None:
            if spec.standard:
                plan.problems.append(f"standard attribute {spec.object}.{spec.api_slug} is missing")
            else:
                plan.create_attributes.append(spec)
                plan.create_options += [(spec, title) for title in spec.options]
            continue
        if actual.get("type") != spec.type:
            plan.problems.append(
                f"{spec.object}.{spec.api_slug} is {actual.get('type')!r}, expected {spec.type!r}"
            )
            continue
        if spec.options:
            have = {
                o.get("title")
                for o in options_by_attribute.get((spec.object, spec.api_slug), [])
                if not o.get("is_archived")
            }
            plan.create_options += [(spec, t) for t in spec.options if t not in have]
    have_lists = {entry.get("api_slug"): entry for entry in lists}
    for list_spec in expected_lists:
        actual_list = have_lists.get(list_spec.api_slug)
        if actual_list is None:
            plan.create_lists.append(list_spec)
        elif list_spec.parent_object not in (actual_list.get("parent_object") or []):
            plan.problems.append(
                f"list {list_spec.api_slug!r} has parent {actual_list.get('parent_object')}, "
                f"expected {list_spec.parent_object!r}"
            )
    return plan
