"""Enriched facts fill only empty company attributes, never ones the Salesforce sync owns."""

from __future__ import annotations

from typing import Any

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.enrichment_fill import FillPolicy, fill_values, policy_from_mapping
from revops_pipelines.domain.field_mapping import FieldMapping

ENRICHED = {
    "industry": "Software",
    "employees": 540,
    "description": "Engines that compute.",
    "country_code": "gb",
    "city": "London",
}
POLICY = policy_from_mapping(load_model(config_path("field_mapping.yaml"), FieldMapping))


def record(**values: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "values": {slug: [{"active_until": None, **v} for v in vs] for slug, vs in values.items()}
    }


def test_an_empty_unsynced_company_gets_every_fact() -> None:
    assert fill_values(record(), ENRICHED, POLICY) == {
        "industry": "Technology",  # through the sync's own option map
        "employee_count": 540,
        "description": "Engines that compute.",
        "primary_location": {
            "line_1": None, "line_2": None, "line_3": None, "line_4": None, "region": None,
            "postcode": None, "latitude": None, "longitude": None,
            "locality": "London", "country_code": "GB",
        },
    }  # fmt: skip


def test_values_attio_has_are_kept() -> None:
    company = record(
        industry=[{"option": {"title": "Retail"}}],
        description=[{"value": "Ours."}],
        primary_location=[{"country_code": "FR", "locality": None}],
    )
    assert fill_values(company, ENRICHED, POLICY) == {"employee_count": 540}


def test_a_synced_company_keeps_even_its_empty_synced_attributes() -> None:
    synced = record(salesforce_id=[{"value": "001A"}])
    assert fill_values(synced, ENRICHED, POLICY) == {}
    # An attribute the mapping does not sync may still be filled on a synced company.
    narrower = FillPolicy(frozenset({"industry", "employee_count"}), POLICY.industry_options)
    assert set(fill_values(synced, ENRICHED, narrower)) == {"description", "primary_location"}


def test_facts_that_do_not_fit_are_left_out() -> None:
    odd = {"industry": "Widgets", "employees": 0, "description": " ", "country_code": "GBR"}
    assert fill_values(record(), odd, POLICY) == {}
