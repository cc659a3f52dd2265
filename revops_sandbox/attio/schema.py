"""The seeded workspace schema: objects, lists, attributes, select options, statuses, members.

`"full"` is the workspace DESIGN.md expects; `"standard"` holds only Attio's standard attributes,
so that `revops attio setup` has custom attributes and lists to create through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from revops_sandbox.attio.errors import Clock, IdSource

SchemaKind = Literal["full", "standard"]
ATTRIBUTE_TYPES = (
    "text",
    "number",
    "checkbox",
    "currency",
    "date",
    "timestamp",
    "rating",
    "status",
    "select",
    "record-reference",
    "actor-reference",
    "location",
    "domain",
    "email-address",
    "phone-number",
    "interaction",
    "personal-name",
)
INDUSTRIES = (
    "Technology",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Media",
    "Energy",
    "Telecommunications",
    "Transportation",
    "Real Estate",
    "Professional Services",
    "Government",
    "Non-profit",
    "Other",
)
CATEGORIES = ("B2B", "B2C", "SaaS", "E-commerce", "Enterprise", "Marketplace")
# Attio's documented default stages of the Deals object ("by default one of Lead, In Progress,
# Won 🎉, Lost"; shared/reference integrations.md §4.6), emoji included.
DEAL_STAGES = ("Lead", "In Progress", "Won 🎉", "Lost")
PIPELINE_STAGES = ("Prospecting", "Qualified", "Proposal", "Won", "Lost")
LEAD_TAGS = ("Hot", "Warm", "Cold")
MEMBERS = (
    ("Morgan", "Lee", "morgan.lee@northwindsales.io", "admin"),
    ("Ava", "Thompson", "ava.thompson@northwindsales.io", "member"),
    ("Liam", "Chen", "liam.chen@northwindsales.io", "member"),
    ("Sofia", "Martinez", "sofia.martinez@northwindsales.io", "member"),
    ("Noah", "Patel", "noah.patel@northwindsales.io", "member"),
    ("Emma", "Johansson", "emma.johansson@northwindsales.io", "member"),
    ("Lucas", "Silva", "lucas.silva@northwindsales.io", "member"),
    ("Jordan", "Blake", "jordan.blake@northwindsales.io", "suspended"),
)


@dataclass
class SelectOption:
    id: str
    title: str
    is_archived: bool = False


@dataclass
class Status:
    id: str
    title: str
    is_archived: bool = False
    celebration_enabled: bool = False
    target_time_in_status: str | None = None


@dataclass
class Attribute:
    id: str
    parent_id: str
    api_slug: str
    title: str
    type: str
    created_at: str
    description: str | None = None
    is_system: bool = False
    is_writable: bool = True
    is_required: bool = False
    is_unique: bool = False
    is_multiselect: bool = False
    is_archived: bool = False
    currency_code: str | None = None
    display_type: str | None = None
    allowed_object_ids: list[str] | None = None
    relationship_id: str | None = None
    options: list[SelectOption] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)


@dataclass
class Container:
    """What objects and lists share: an id, a slug and attributes (in creation order)."""

    id: str
    api_slug: str
    created_at: str
    attributes: dict[str, Attribute] = field(default_factory=dict)

    def attribute(self, slug_or_id: str) -> Attribute | None:
        if slug_or_id in self.attributes:
            return self.attributes[slug_or_id]
        return next((a for a in self.attributes.values() if a.api_slug == slug_or_id), None)

    def active_attributes(self) -> list[Attribute]:
        return [a for a in self.attributes.values() if not a.is_archived]


@dataclass
class ObjectDef(Container):
    singular_noun: str = ""
    plural_noun: str = ""


@dataclass
class ListDef(Container):
    name: str = ""
    parent_object: str = ""
    workspace_access: str | None = "full-access"
    workspace_member_access: list[dict[str, str | None]] = field(default_factory=list)
    created_by_actor: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Member:
    id: str
    first_name: str
    last_name: str
    email_address: str
    access_level: str
    created_at: str


@dataclass
class Schema:
    objects: dict[str, ObjectDef]
    lists: dict[str, ListDef]
    members: dict[str, Member]


class _Builder:
    def __init__(self, ids: IdSource, clock: Clock) -> None:
        self.ids = ids
        self.clock = clock
        self.objects: dict[str, ObjectDef] = {}

    def obj(self, slug: str, singular: str, plural: str) -> ObjectDef:
        o = ObjectDef(self.ids.new(), slug, self.clock.now(), singular_noun=singular)
        o.plural_noun = plural
        self.objects[o.id] = o
        self.attr(o, "record_id", "Record ID", "text", is_system=True, writable=False, unique=True)
        return o

    def attr(
        self,
        parent: Container,
        slug: str,
        title: str,
        type_: str,
        *,
        is_system: bool = True,
        writable: bool = True,
        unique: bool = False,
        multi: bool = False,
        currency: str | None = None,
        targets: list[ObjectDef] | None = None,
    ) -> Attribute:
        a = Attribute(
            id=self.ids.new(),
            parent_id=parent.id,
            api_slug=slug,
            title=title,
            type=type_,
            created_at=self.clock.now(),
            is_system=is_system,
            is_writable=writable,
            is_unique=unique,
            is_multiselect=multi,
            currency_code=currency,
            display_type="symbol" if type_ == "currency" else None,
            allowed_object_ids=[t.id for t in targets] if targets is not None else None,
        )
        parent.attributes[a.id] = a
        return a

    def options(self, a: Attribute, titles: tuple[str, ...]) -> None:
        a.options += [SelectOption(self.ids.new(), t) for t in titles]

    def relate(self, a: Attribute, b: Attribute) -> None:
        a.relationship_id, b.relationship_id = b.id, a.id

    def closing(self, parent: Container) -> None:
        self.attr(parent, "created_at", "Created at", "timestamp", writable=False)
        self.attr(parent, "created_by", "Created by", "actor-reference", writable=False)


def _usage_attributes(b: _Builder, parent: Container) -> None:
    """The product-usage rollup's attributes (the same on people and companies)."""
    b.attr(parent, "last_seen_at", "Last seen", "timestamp", is_system=False)
    b.attr(parent, "active_days_7", "Active days (7 d)", "number", is_system=False)
    b.attr(parent, "active_days_30", "Active days (30 d)", "number", is_system=False)
    b.attr(parent, "top_events", "Top events", "text", is_system=False)


def build_schema(kind: SchemaKind, ids: IdSource, clock: Clock) -> Schema:
    if kind not in ("full", "standard"):
        raise ValueError(f"unknown Attio sandbox schema {kind!r}; use 'full' or 'standard'")
    full = kind == "full"
    b = _Builder(ids, clock)
    companies = b.obj("companies", "Company", "Companies")
    people = b.obj("people", "Person", "People")
    deals = b.obj("deals", "Deal", "Deals")

    b.attr(companies, "name", "Name", "text")
    b.attr(companies, "domains", "Domains", "domain", unique=True, multi=True)
    b.attr(companies, "description", "Description", "text")
    team = b.attr(companies, "team", "Team", "record-reference", multi=True, targets=[people])
    b.options(b.attr(companies, "categories", "Categories", "select", multi=True), CATEGORIES)
    b.attr(companies, "primary_location", "Primary location", "location")
    b.attr(companies, "logo_url", "Logo URL", "text", writable=False)
    b.attr(companies, "linkedin", "LinkedIn", "text")
    b.attr(companies, "twitter", "Twitter", "text")
    company_deals = b.attr(
        companies, "associated_deals", "Associated deals", "record-reference", multi=True
    )
    if full:
        b.attr(companies, "salesforce_id", "Salesforce ID", "text", is_system=False)
        b.options(b.attr(companies, "industry", "Industry", "select", is_system=False), INDUSTRIES)
        b.attr(companies, "employee_count", "Employee count", "number", is_system=False)
        b.attr(
            companies,
            "annual_revenue",
            "Annual revenue",
            "currency",
            is_system=False,
            currency="USD",
        )
        _usage_attributes(b, companies)
        b.attr(companies, "last_activity_at", "Last activity", "timestamp", is_system=False)
    b.closing(companies)

    b.attr(people, "name", "Name", "personal-name")
    b.attr(people, "email_addresses", "Email addresses", "email-address", unique=True, multi=True)
    b.attr(people, "description", "Description", "text")
    company = b.attr(people, "company", "Company", "record-reference", targets=[companies])
    b.relate(company, team)
    b.attr(people, "job_title", "Job title", "text")
    b.attr(people, "phone_numbers", "Phone numbers", "phone-number", multi=True)
    b.attr(people, "primary_location", "Primary location", "location")
    b.attr(people, "avatar_url", "Avatar URL", "text", writable=False)
    b.attr(people, "linkedin", "LinkedIn", "text")
    b.attr(people, "twitter", "Twitter", "text")
    people_deals = b.attr(
        people, "associated_deals", "Associated deals", "record-reference", multi=True
    )
    if full:
        for slug, title in (("lead_source", "Lead source"), ("region", "Region")):
            b.attr(people, slug, title, "text", is_system=False)
        b.attr(people, "owner", "Owner", "actor-reference", is_system=False)
        b.attr(people, "routing_reason", "Routing reason", "text", is_system=False)
        b.attr(people, "first_touched_at", "First touched", "timestamp", is_system=False)
        b.attr(people, "last_activity_at", "Last activity", "timestamp", is_system=False)
        b.attr(people, "form_id", "Form ID", "text", is_system=False)
        for slug, title in (
            ("form_submission_date", "Form submission date"),
            ("assigned_date", "Assigned date"),
        ):
            b.attr(people, slug, title, "date", is_system=False)
        _usage_attributes(b, people)
    b.closing(people)

    # Deals are disabled in a new Attio workspace until an admin enables them; the product's
    # deal notifications need them, so the sandbox serves the workspace with them enabled.
    # `name`, `stage` and `owner` are required (Attio's Deals page).
    b.attr(deals, "name", "Deal name", "text").is_required = True
    stage = b.attr(deals, "stage", "Deal stage", "status")
    stage.is_required = True
    # celebration_enabled exists on every status; whether Attio turns it on for `Won 🎉` is
    # UNCONFIRMED, so it is off everywhere: nothing may infer "won" from it (reference §4.6).
    stage.statuses = [Status(ids.new(), t, celebration_enabled=False) for t in DEAL_STAGES]
    b.attr(deals, "owner", "Deal owner", "actor-reference").is_required = True
    b.attr(deals, "value", "Deal value", "currency", currency="USD")
    assoc_people = b.attr(
        deals, "associated_people", "Associated people", "record-reference", multi=True
    )
    assoc_company = b.attr(deals, "associated_company", "Associated company", "record-reference")
    for a, inverse, target in (
        (assoc_people, people_deals, people),
        (assoc_company, company_deals, companies),
    ):
        a.allowed_object_ids = [target.id]
        inverse.allowed_object_ids = [deals.id]
        b.relate(a, inverse)
    b.closing(deals)

    lists: dict[str, ListDef] = {}
    members = {
        m.id: m
        for m in (
            Member(ids.new(), first, last, email, level, clock.now())
            for first, last, email, level in MEMBERS
        )
    }
    if full:
        for slug, name, parent in (
            ("inbound_leads", "Inbound leads", people),
            ("enterprise_pipeline", "Enterprise pipeline", people),
            ("partner_leads", "Partner leads", people),
            ("sales_pipeline", "Sales pipeline", companies),
        ):
            lst = ListDef(ids.new(), slug, clock.now(), name=name, parent_object=parent.api_slug)
            lst.created_by_actor = {"type": "system", "id": None}
            b.attr(lst, "entry_id", "Entry ID", "text", writable=False, unique=True)
            if slug == "sales_pipeline":
                b.attr(lst, "stage", "Stage", "status", is_system=False).statuses = [
                    Status(ids.new(), t) for t in PIPELINE_STAGES
                ]
            if slug == "inbound_leads":
                tags = b.attr(lst, "tags", "Tags", "select", is_system=False, multi=True)
                b.options(tags, LEAD_TAGS)
            b.closing(lst)
            lists[lst.id] = lst
    return Schema(objects=b.objects, lists=lists, members=members)


def new_attribute(parent: Container, ids: IdSource, clock: Clock, **fields: object) -> Attribute:
    """An attribute created through the API (never a system attribute)."""
    a = Attribute(id=ids.new(), parent_id=parent.id, created_at=clock.now(), **fields)  # type: ignore[arg-type]
    parent.attributes[a.id] = a
    return a
