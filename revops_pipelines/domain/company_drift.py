"""Compare what Attio holds with what the mapping says it should (the weekly full sync)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from revops_pipelines.domain.attio_values import active_values, first_value, record_id
from revops_pipelines.domain.field_mapping import FieldMapping

Record = dict[str, Any]


def read_attribute(record: Record, rule_target: str, transform: str) -> Any:
    """An attribute's current value in the form the mapping writes (a select's title, ...)."""
    if transform == "domain":
        return sorted(v.get("domain") for v in active_values(record, rule_target))
    if transform == "select":
        option = first_value(record, rule_target, "option")
        return option.get("title") if option else None
    if transform == "currency":
        return first_value(record, rule_target, "currency_value")
    if transform == "country":
        return first_value(record, rule_target, "country_code")
    return first_value(record, rule_target)


def _expected(values: dict[str, Any], target: str, transform: str) -> Any:
    value = values.get(target)
    if transform == "domain":
        return sorted(value or [])
    if transform == "country":
        return value.get("country_code") if value else None
    return value


def differences(record: Record, values: dict[str, Any], mapping: FieldMapping) -> list[str]:
    """The attributes whose value in Attio is not the mapped one."""
    changed = []
    for rule in mapping.fields:
        want = _expected(values, rule.target, rule.transform)
        have = read_attribute(record, rule.target, rule.transform)
        if isinstance(want, int | float) and isinstance(have, int | float):
            if abs(float(want) - float(have)) > 1e-6:
                changed.append(rule.target)
        elif want != have:
            changed.append(rule.target)
    return changed


@dataclass
class Reconciliation:
    drifted: dict[str, list[str]] = field(default_factory=dict)  # source id -> attributes
    missing: set[str] = field(default_factory=set)  # synced before, gone from Attio
    orphans: list[Record] = field(default_factory=list)  # Attio companies no account explains


def reconcile(
    expected: dict[str, dict[str, Any]],
    known_accounts: set[str],
    record_ids: dict[str, str],
    companies: list[Record],
    mapping: FieldMapping,
) -> Reconciliation:
    """`expected`: source id -> the values Attio should hold (live, valid accounts only);
    `known_accounts`: every account id read, deleted ones included; `companies`: all of Attio's."""
    by_id = {record_id(c): c for c in companies}
    by_sf: dict[str, Record] = {}
    for company in companies:
        sf_id = first_value(company, "salesforce_id")
        if sf_id:
            by_sf.setdefault(str(sf_id), company)
    result = Reconciliation()
    for source_id, values in expected.items():
        rid = record_ids.get(source_id)
        record = by_id.get(rid) if rid else by_sf.get(source_id)
        if record is None:
            if rid:
                result.missing.add(source_id)
            continue
        changed = differences(record, values, mapping)
        if changed:
            result.drifted[source_id] = changed
    for company in companies:
        sf_id = first_value(company, "salesforce_id")
        if sf_id and str(sf_id) not in known_accounts:
            result.orphans.append(company)
    return result
