"""Planning the workspace schema against what a workspace reports."""

from __future__ import annotations

from revops_pipelines.domain.attio_schema import (
    DEFAULT_INDUSTRIES,
    EXPECTED_ATTRIBUTES,
    EXPECTED_LISTS,
    plan_schema,
)


def _attrs(object_: str, **overrides: str) -> list[dict[str, object]]:
    return [
        {"api_slug": spec.api_slug, "type": overrides.get(spec.api_slug, spec.type)}
        for spec in EXPECTED_ATTRIBUTES
        if spec.object == object_
    ]


def _complete_options() -> dict[tuple[str, str], list[dict[str, object]]]:
    return {
        ("companies", "industry"): [{"title": t, "is_archived": False} for t in DEFAULT_INDUSTRIES]
    }


def _lists() -> list[dict[str, object]]:
    return [{"api_slug": s.api_slug, "parent_object": [s.parent_object]} for s in EXPECTED_LISTS]


def test_a_complete_workspace_needs_nothing() -> None:
    attributes = {o: _attrs(o) for o in ("companies", "people", "deals")}
    plan = plan_schema(attributes, _complete_options(), _lists())
    assert plan.is_empty
    assert plan.problems == []


def test_a_standard_workspace_gets_custom_attributes_options_and_lists() -> None:
    standard_only = {
        o: [
            {"api_slug": s.api_slug, "type": s.type}
            for s in EXPECTED_ATTRIBUTES
            if s.object == o and s.standard
        ]
        for o in ("companies", "people", "deals")
    }
    plan = plan_schema(standard_only, {}, [])
    created = {(a.object, a.api_slug) for a in plan.create_attributes}
    assert created == {
        ("companies", "salesforce_id"),
        ("companies", "industry"),
        ("companies", "employee_count"),
        ("companies", "annual_revenue"),
        ("people", "lead_source"),
        ("people", "region"),
        ("people", "owner"),
        ("people", "routing_reason"),
        ("people", "form_id"),
        ("people", "form_submission_date"),
        ("people", "assigned_date"),
        *(
            (obj, slug)
            for obj in ("companies", "people")
            for slug in ("last_seen_at", "active_days_7", "active_days_30", "top_events")
        ),
        ("people", "first_touched_at"),  # issue 14: first touch and last activity
        ("people", "last_activity_at"),
        ("companies", "last_activity_at"),
    }
    assert [t for _, t in plan.create_options] == list(DEFAULT_INDUSTRIES)
    assert [s.api_slug for s in plan.create_lists] == [s.api_slug for s in EXPECTED_LISTS]
    assert plan.problems == []


def test_missing_options_only_are_added() -> None:
    attributes = {o: _attrs(o) for o in ("companies", "people", "deals")}
    options = {("companies", "industry"): [{"title": "Technology", "is_archived": False}]}
    plan = plan_schema(attributes, options, _lists())
    assert [t for _, t in plan.create_options] == [
        t for t in DEFAULT_INDUSTRIES if t != "Technology"
    ]


def test_type_mismatch_missing_standard_and_disabled_object_are_problems() -> None:
    attributes = {
        "companies": _attrs("companies", industry="text"),
        "people": [a for a in _attrs("people") if a["api_slug"] != "email_addresses"],
        "deals": None,
    }
    lists = [{"api_slug": "sales_pipeline", "parent_object": ["people"]}]
    plan = plan_schema(attributes, _complete_options(), lists)
    assert "companies.industry is 'text', expected 'select'" in plan.problems
    assert "standard attribute people.email_addresses is missing" in plan.problems
    assert "object 'deals' is not enabled in the workspace" in plan.problems
    assert any(p.startswith("list 'sales_pipeline' has parent") for p in plan.problems)
    assert plan.problems.count("object 'deals' is not enabled in the workspace") == 1
