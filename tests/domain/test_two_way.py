"""Two-way field decisions: which side's value stands, from the baseline and both current values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revops_pipelines.assets.salesforce_sync import FIELD_MAPPING
from revops_pipelines.domain.two_way import (
    AttioValue,
    attio_side,
    baseline_values,
    decide_field,
    decide_fields,
    keep_attio_edits,
    latest_side,
    salesforce_value,
    two_way_rules,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INDUSTRY = FIELD_MAPPING.rule_for("industry")
EMPLOYEES = FIELD_MAPPING.rule_for("employee_count")


def attio(value: object, minutes: int = 0) -> AttioValue:
    return AttioValue(value, T0 + timedelta(minutes=minutes), "workspace-member")


def decide(
    base: dict | None, attio_value: AttioValue, sf: object, sf_minutes: int = 0, winner="latest"
):  # type: ignore[no-untyped-def]
    return decide_field(
        INDUSTRY,
        baseline=base,
        attio=attio_value,
        salesforce=sf,
        salesforce_changed_at=T0 + timedelta(minutes=sf_minutes),
        winner=winner,
    )


def test_the_mapping_marks_industry_and_employee_count_two_way() -> None:
    assert [r.target for r in two_way_rules(FIELD_MAPPING)] == ["industry", "employee_count"]
    assert FIELD_MAPPING.conflict_winner == "latest"


def test_only_attio_changed_goes_to_salesforce() -> None:
    d = decide({"industry": "Retail"}, attio("Healthcare"), "Retail")
    assert (d.action, d.conflict, d.winner, d.agreed) == (
        "to_salesforce",
        False,
        "attio",
        "Healthcare",
    )


def test_attio_unchanged_is_an_echo_and_does_nothing() -> None:
    # Salesforce moved on; its change reaches Attio through the sync, not the write-back.
    d = decide({"industry": "Retail"}, attio("Retail"), "Energy", sf_minutes=5)
    assert (d.action, d.conflict) == ("none", False)


def test_both_sides_equal_is_no_conflict_even_when_both_changed() -> None:
    d = decide({"industry": "Retail"}, attio("Energy"), "Energy")
    assert (d.action, d.conflict, d.agreed) == ("none", False, "Energy")


@pytest.mark.parametrize(
    ("attio_minutes", "sf_minutes", "winner", "action", "side"),
    [
        (10, 5, "latest", "to_salesforce", "attio"),
        (5, 10, "latest", "to_attio", "salesforce"),
        (5, 5, "latest", "to_attio", "salesforce"),  # a tie goes to the system of record
        (5, 10, "attio", "to_salesforce", "attio"),
        (10, 5, "salesforce", "to_attio", "salesforce"),
    ],
)
def test_changed_on_both_sides_is_a_conflict_settled_by_the_winner(
    attio_minutes: int, sf_minutes: int, winner: str, action: str, side: str
) -> None:
    d = decide(
        {"industry": "Retail"}, attio("Healthcare", attio_minutes), "Energy", sf_minutes, winner
    )
    assert (d.action, d.conflict, d.winner) == (action, True, side)
    assert d.agreed == ("Healthcare" if side == "attio" else "Energy")


def test_without_a_baseline_the_later_write_wins_and_no_conflict_is_claimed() -> None:
    newer_attio = decide(None, attio("Healthcare", 10), "Energy", 5)
    newer_sf = decide(None, attio("Healthcare", 5), "Energy", 10)
    assert (newer_attio.action, newer_attio.conflict) == ("to_salesforce", False)
    assert (newer_sf.action, newer_sf.conflict) == ("to_attio", False)


def test_latest_side_treats_a_missing_time_as_older() -> None:
    assert latest_side(None, T0) == "salesforce"
    assert latest_side(T0, None) == "attio"


def test_numbers_compare_by_value_not_type() -> None:
    d = decide_field(
        EMPLOYEES,
        baseline={"employee_count": 120},
        attio=attio(120.0),
        salesforce=120,
        salesforce_changed_at=T0,
        winner="latest",
    )
    assert d.action == "none"


def test_a_select_option_goes_back_as_its_picklist_value() -> None:
    assert salesforce_value(INDUSTRY, "Healthcare") == "Healthcare"
    # No picklist value spelled like the option: the first that maps to it.
    assert salesforce_value(INDUSTRY, "Financial Services") == "Banking"
    # The default option has no picklist value: its own title.
    assert salesforce_value(INDUSTRY, "Other") == "Other"
    assert salesforce_value(INDUSTRY, None) is None
    assert salesforce_value(EMPLOYEES, 42.0) == 42


def test_keep_attio_edits_leaves_out_only_two_way_fields_salesforce_did_not_change() -> None:
    values = {"name": "Acme", "industry": "Technology", "employee_count": 50}
    mapped = {"industry": "Technology", "employee_count": 50}
    baseline = {"industry": "Technology", "employee_count": 40}
    kept = keep_attio_edits(values, mapped, baseline, FIELD_MAPPING)
    assert kept == {"name": "Acme", "employee_count": 50}
    assert keep_attio_edits(values, mapped, None, FIELD_MAPPING) == values


def test_attio_side_reads_value_time_and_actor() -> None:
    record = {
        "values": {
            "industry": [
                {
                    "option": {"title": "Retail"},
                    "active_from": "2026-11-20T12:30:00.000000000Z",
                    "active_until": None,
                    "created_by_actor": {"type": "workspace-member", "id": "m1"},
                }
            ],
            "employee_count": [],
        }
    }
    side = attio_side(record, FIELD_MAPPING)
    assert side["industry"] == AttioValue("Retail", T0 + timedelta(minutes=30), "workspace-member")
    assert side["employee_count"] == AttioValue(None, None, None)


def test_decide_fields_covers_every_two_way_field_and_baseline_values_are_plain() -> None:
    base = baseline_values({"industry": "Retail", "employee_count": 7.0}, FIELD_MAPPING)
    assert base == {"industry": "Retail", "employee_count": 7}
    decisions = decide_fields(
        FIELD_MAPPING,
        baseline=base,
        attio={"industry": attio("Retail"), "employee_count": attio(9)},
        salesforce={"industry": "Retail", "employee_count": 7},
        salesforce_changed_at=T0,
    )
    assert [(d.target, d.action) for d in decisions] == [
        ("industry", "none"),
        ("employee_count", "to_salesforce"),
    ]
