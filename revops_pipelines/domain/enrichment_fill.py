"""Which enriched company facts may fill a company's Attio attributes (the seed's "Enrich → Attio").

Pure. A fact fills an attribute only where Attio's value is empty, and never an attribute the
Salesforce sync owns on a company that came from Salesforce (it has a `salesforce_id`): there
the sync's value, even an empty one, is the truth. Industry is written only as one of the
workspace's select options (through the same option map as the sync); an industry without an
option is left out rather than refused by Attio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from revops_pipelines.domain.attio_values import active_values, first_value
from revops_pipelines.domain.field_mapping import FieldMapping

FILLABLE = ("industry", "employee_count", "description", "primary_location")


@dataclass(frozen=True)
class FillPolicy:
    synced_attributes: frozenset[str] = frozenset()  # the Salesforce mapping's Attio targets
    industry_options: Mapping[str, str] = field(default_factory=dict)  # raw -> option title


def _location(enrichment: Mapping[str, Any]) -> dict[str, Any] | None:
    code = enrichment.get("country_code")
    if not isinstance(code, str) or len(code) != 2:
        return None
    keys = ("line_1", "line_2", "line_3", "line_4", "region", "postcode", "latitude", "longitude")
    return {**dict.fromkeys(keys), "locality": enrichment.get("city"), "country_code": code.upper()}


def _candidates(enrichment: Mapping[str, Any], policy: FillPolicy) -> dict[str, Any]:
    industry = enrichment.get("industry")
    option = policy.industry_options.get(industry) if isinstance(industry, str) else None
    employees = enrichment.get("employees")
    description = enrichment.get("description")
    return {
        "industry": option,
        "employee_count": employees if isinstance(employees, int) and employees > 0 else None,
        "description": description.strip() if isinstance(description, str) else None,
        "primary_location": _location(enrichment),
    }


def fill_values(
    company: Mapping[str, Any], enrichment: Mapping[str, Any], policy: FillPolicy
) -> dict[str, Any]:
    """The attribute values to write on `company` (an Attio record) from `enrichment`."""
    synced = bool(first_value(company, "salesforce_id"))
    values = {}
    for slug, value in _candidates(enrichment, policy).items():
        if value in (None, ""):
            continue
        if synced and slug in policy.synced_attributes:
            continue
        if any(
            v.get("value") not in (None, "") or "value" not in v
            for v in active_values(company, slug)
        ):
            continue  # Attio has a value (a select or location has no "value" key)
        values[slug] = value
    return values


def _has_value(value: Mapping[str, Any]) -> bool:
    """An Attio value that is set (a select or a location has no "value" key)."""
    return value.get("value") not in (None, "") if "value" in value else True


def policy_from_mapping(mapping: FieldMapping) -> FillPolicy:
    """The fill policy of a Salesforce field mapping: its Attio targets are the sync's, and an
    industry is mapped to an option the way the sync maps Salesforce's (an option's own title
    included)."""
    options: dict[str, str] = {}
    for rule in mapping.fields:
        if rule.target == "industry":
            options |= {title: title for title in rule.options.values()}
            options |= dict(rule.options)
    return FillPolicy(frozenset(r.target for r in mapping.fields), options)
