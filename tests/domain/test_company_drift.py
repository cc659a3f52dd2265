"""Comparing Attio's companies with the mapped accounts (the full sync's reconcile)."""

from __future__ import annotations

from typing import Any

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_drift import differences, reconcile
from revops_pipelines.domain.field_mapping import FieldMapping

MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)


def value(**fields: Any) -> list[dict[str, Any]]:
    return [{"active_until": None, **fields}]


def company(rid: str, sf_id: str | None, name: str, domain: str | None) -> dict[str, Any]:
    return {
        "id": {"record_id": rid},
        "values": {
            "name": value(value=name),
            "domains": value(domain=domain) if domain else [],
            "salesforce_id": value(value=sf_id) if sf_id else [],
            "industry": value(option={"title": "Technology"}),
            "employee_count": value(value=10),
            "annual_revenue": value(currency_value=5.0),
            "primary_location": value(country_code="US"),
            "description": [],
        },
    }


def expected(name: str, domain: str | None, sf_id: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": name,
        "salesforce_id": sf_id,
        "industry": "Technology",
        "employee_count": 10,
        "annual_revenue": 5.0,
        "primary_location": {"country_code": "US"},
    }
    if domain:
        values["domains"] = [domain]
    return values


def test_identical_values_show_no_difference() -> None:
    assert (
        differences(
            company("r1", "001", "Acme", "acme.com"), expected("Acme", "acme.com", "001"), MAPPING
        )
        == []
    )


def test_each_changed_attribute_is_named() -> None:
    record = company("r1", "001", "Acme (edited)", "other.com")
    assert differences(record, expected("Acme", "acme.com", "001"), MAPPING) == ["name", "domains"]


def test_reconcile_finds_drift_missing_and_orphans() -> None:
    companies = [
        company("r1", "001", "Acme (edited)", "acme.com"),
        company("r3", "003", "Gamma", None),
        company("r9", "009", "Orphan", "orphan.com"),
        company("r0", None, "Made by hand", "hand.com"),
    ]
    want = {
        "001": expected("Acme", "acme.com", "001"),
        "002": expected("Beta", "beta.com", "002"),
        "003": expected("Gamma", None, "003"),
    }
    result = reconcile(want, {"001", "002", "003"}, {"001": "r1", "002": "r2"}, companies, MAPPING)
    assert result.drifted == {"001": ["name"]}
    assert result.missing == {"002"}  # synced before (in the id map), gone from Attio
    assert [c["id"]["record_id"] for c in result.orphans] == ["r9"]  # hand-made ones are not ours
