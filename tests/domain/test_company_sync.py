"""Planning a company sync batch: the diff, domain ownership, deletions, drift rewrites."""

from __future__ import annotations

import pandas as pd

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.company_mapping import map_accounts
from revops_pipelines.domain.company_sync import plan_company_sync
from revops_pipelines.domain.field_mapping import FieldMapping

MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)
EMPTY_STATE = pd.DataFrame(columns=["source_id", "row_hash", "status"])


def account(source_id: str, website: str | None, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "Id": source_id,
        "SystemModstamp": "2026-11-20T08:00:00.000+0000",
        "IsDeleted": False,
        "Name": f"Company {source_id}",
        "Website": website,
        "Industry": "Banking",
        "NumberOfEmployees": 10,
        "AnnualRevenue": 5.0,
        "BillingCountry": "US",
        "Description": None,
    }
    row.update(overrides)
    return row


def mapped(*rows: dict[str, object]) -> pd.DataFrame:
    return map_accounts(pd.DataFrame(list(rows)), MAPPING)


def ops(plan) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {a.source_id: (a.operation, a.reason) for a in plan.actions}


def state_of(frame: pd.DataFrame, status: str = "ok") -> pd.DataFrame:
    return pd.DataFrame(
        {"source_id": frame["source_id"], "row_hash": frame["row_hash"], "status": status}
    )


def test_new_rows_are_upserted_and_unchanged_rows_skipped() -> None:
    batch = mapped(account("001", "a.com"), account("002", None))
    first = plan_company_sync(batch, EMPTY_STATE, {}, {}, MAPPING)
    assert ops(first) == {"001": ("upsert", "new"), "002": ("upsert", "new")}
    second = plan_company_sync(batch, state_of(batch), {}, {}, MAPPING)
    assert second.actions == [] and second.unchanged == 2


def test_changed_and_previously_rejected_rows_are_written_again() -> None:
    before = mapped(account("001", "a.com"), account("002", "b.com"))
    after = mapped(account("001", "a.com", Name="Renamed"), account("002", "b.com"))
    state = state_of(before)
    state.loc[state["source_id"] == "002", "status"] = "rejected"
    plan = plan_company_sync(after, state, {}, {}, MAPPING)
    assert ops(plan) == {"001": ("upsert", "changed"), "002": ("upsert", "retry rejected")}
    assert plan.actions[0].values["name"] == "Renamed"
    assert plan.actions[0].values["description"] == []  # known rows clear what became empty


def test_a_shared_domain_is_written_once_and_reported() -> None:
    batch = mapped(
        account("003", "shared.com"),
        account("001", "https://www.shared.com"),
        account("002", "x.com"),
    )
    plan = plan_company_sync(batch, EMPTY_STATE, {}, {}, MAPPING)
    assert ops(plan)["001"] == ("upsert", "new")
    assert ops(plan)["003"] == ("conflict", "domain shared.com belongs to account 001")
    outside = plan_company_sync(batch, EMPTY_STATE, {}, {"shared.com": "000"}, MAPPING)
    assert ops(outside)["001"][0] == ops(outside)["003"][0] == "conflict"


def test_rejected_rows_are_reported_not_written() -> None:
    plan = plan_company_sync(
        mapped(account("001", "a.com", Name=None)), EMPTY_STATE, {}, {}, MAPPING
    )
    assert ops(plan) == {"001": ("reject", "Name is required")}
    assert plan.writes == []


def test_deleted_accounts_follow_on_deleted() -> None:
    live = mapped(account("001", "a.com"))
    gone = mapped(account("001", "a.com", IsDeleted=True))
    state = state_of(live)
    for mode, expected in (("nothing", "skip"), ("clear", "clear"), ("delete", "delete")):
        mapping = MAPPING.model_copy(update={"on_deleted": mode})
        plan = plan_company_sync(gone, state, {"001": "rec-1"}, {}, mapping)
        assert ops(plan)["001"][0] == expected
    clear = plan_company_sync(
        gone, state, {"001": "rec-1"}, {}, MAPPING.model_copy(update={"on_deleted": "clear"})
    )
    assert set(clear.actions[0].values) == {
        "industry",
        "employee_count",
        "annual_revenue",
        "primary_location",
        "description",
    }
    unsynced = plan_company_sync(
        gone, EMPTY_STATE, {}, {}, MAPPING.model_copy(update={"on_deleted": "delete"})
    )
    assert ops(unsynced)["001"] == ("skip", "deleted before it reached Attio")


def test_the_newest_version_of_a_repeated_account_wins() -> None:
    batch = mapped(
        account("001", "a.com", Name="Old", SystemModstamp="2026-11-20T08:00:00.000+0000"),
        account("001", "a.com", Name="New", SystemModstamp="2026-11-20T09:00:00.000+0000"),
    )
    plan = plan_company_sync(batch, EMPTY_STATE, {}, {}, MAPPING)
    assert [a.values["name"] for a in plan.actions] == ["New"]


def test_rewrite_forces_unchanged_rows() -> None:
    batch = mapped(account("001", "a.com"), account("002", "b.com"))
    plan = plan_company_sync(
        batch, state_of(batch), {}, {}, MAPPING, rewrite={"002": "drift: name"}
    )
    assert ops(plan) == {"002": ("upsert", "drift: name")}
    assert plan.unchanged == 1
