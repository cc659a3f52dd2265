"""Decide what each mapped account needs in Attio: the diff against the last successful sync.

Only new and changed rows are written, plus rows that were rejected or in conflict last time.
A domain is Attio's only unique company key, so one domain belongs to one account: the account
outside this batch that already holds it, else the lowest Salesforce Id in the batch; the other
accounts with that domain are reported as conflicts and not written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from revops_pipelines.domain.company_mapping import (
    IS_DELETED,
    MODIFIED_AT,
    REJECT_REASON,
    ROW_HASH,
    SOURCE_ID,
    attio_values,
)
from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.domain.two_way import baseline_values, keep_attio_edits

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

Operation = Literal["upsert", "clear", "delete", "reject", "conflict", "skip"]
WRITES: frozenset[str] = frozenset({"upsert", "clear", "delete"})
KEPT_ON_CLEAR = frozenset({"name", "domains", "salesforce_id"})


@dataclass(frozen=True)
class CompanyAction:
    """What to do for one account, and why."""

    source_id: str
    operation: Operation
    reason: str
    row_hash: str
    domain: str | None = None
    record_id: str | None = None
    values: dict[str, Any] | None = None
    two_way: dict[str, Any] | None = None  # the two-way values both sides agree on once written


@dataclass
class SyncPlan:
    actions: list[CompanyAction] = field(default_factory=list)
    unchanged: int = 0

    @property
    def writes(self) -> list[CompanyAction]:
        return [a for a in self.actions if a.operation in WRITES]

    def counts(self) -> dict[str, int]:
        counts = Counter(a.operation for a in self.actions)
        counts["skip"] += self.unchanged
        return dict(counts)


def _clean(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def plan_company_sync(
    mapped: pd.DataFrame,
    state: pd.DataFrame,
    record_ids: dict[str, str],
    outside_owners: dict[str, str],
    mapping: FieldMapping,
    *,
    rewrite: dict[str, str] | None = None,
) -> SyncPlan:
    """Plan one batch of mapped accounts.

    `state`: the last sync of these accounts (columns source_id, row_hash, status).
    `record_ids`: Salesforce Id -> Attio record id, for accounts already in Attio.
    `outside_owners`: domain -> the Salesforce Id outside this batch that holds it in Attio.
    `rewrite`: source id -> why, for unchanged rows that must be written anyway (the full sync
    found them drifted or missing in Attio).
    """
    import numpy as np
    import pandas as pd

    rewrite = rewrite or {}
    # The newest version of an account wins when a batch holds it twice (overlapping windows).
    rows = mapped.sort_values([MODIFIED_AT, SOURCE_ID]).drop_duplicates(SOURCE_ID, keep="last")
    rows = rows.sort_values(SOURCE_ID).reset_index(drop=True)
    previous = state.set_index("source_id").reindex(rows[SOURCE_ID])
    prev_hash = previous["row_hash"].to_numpy(dtype=object)
    prev_status = previous["status"].to_numpy(dtype=object)
    prev_two_way = (
        previous["two_way_values"].to_numpy(dtype=object)
        if "two_way_values" in previous
        else np.full(len(rows), None, dtype=object)
    )
    known = pd.notna(prev_status)

    rejected = rows[REJECT_REASON].notna().to_numpy()
    deleted = rows[IS_DELETED].to_numpy(dtype=bool) & ~rejected
    domains = rows["domains"].astype(object).where(rows["domains"].notna(), None)
    live = ~rejected & ~deleted
    first_claim = rows[live & domains.notna().to_numpy()].drop_duplicates("domains", keep="first")
    owners = dict(zip(first_claim["domains"], first_claim[SOURCE_ID], strict=True))
    owners.update(outside_owners)
    owner = [owners.get(d) if d is not None else None for d in domains]
    ids = rows[SOURCE_ID].to_list()
    conflict = live & np.array(
        [o is not None and o != i for o, i in zip(owner, ids, strict=True)], dtype=bool
    )
    same = known & np.array(prev_hash == rows[ROW_HASH].to_numpy(dtype=object), dtype=bool)
    forced = np.array([i in rewrite for i in ids], dtype=bool)
    unchanged = live & ~conflict & same & np.array(prev_status == "ok", dtype=bool) & ~forced

    plan = SyncPlan(unchanged=int(unchanged.sum()))
    records = rows.to_dict("records")
    for i in np.flatnonzero(~unchanged):
        row = records[i]
        source_id, row_hash = str(row[SOURCE_ID]), str(row[ROW_HASH])
        domain, record_id = domains[i], record_ids.get(source_id)
        if rejected[i]:
            plan.actions.append(
                CompanyAction(
                    source_id, "reject", str(row[REJECT_REASON]), row_hash, domain, record_id
                )
            )
        elif deleted[i]:
            plan.actions.append(
                _deleted_action(
                    source_id, row_hash, record_id, prev_hash[i], prev_status[i], mapping
                )
            )
        elif conflict[i]:
            why = f"domain {domain} belongs to account {owner[i]}"
            plan.actions.append(
                CompanyAction(source_id, "conflict", why, row_hash, domain, record_id)
            )
        else:
            if not known[i]:
                reason = "new"
            elif prev_hash[i] != row_hash:
                reason = "changed"
            elif prev_status[i] != "ok":
                reason = f"retry {prev_status[i]}"
            else:
                reason = rewrite.get(source_id, "rewrite")
            clean = {k: _clean(v) for k, v in row.items()}
            values = attio_values(clean, mapping, clear_missing=bool(known[i]))
            baseline = prev_two_way[i] if isinstance(prev_two_way[i], dict) else None
            values = keep_attio_edits(values, clean, baseline, mapping)
            # A field left out equals the baseline already, so the baseline is Salesforce's value.
            agreed = baseline_values(clean, mapping)
            plan.actions.append(
                CompanyAction(
                    source_id, "upsert", reason, row_hash, domain, record_id, values, agreed
                )
            )
    return plan


def _deleted_action(
    source_id: str,
    row_hash: str,
    record_id: str | None,
    prev_hash: Any,
    prev_status: Any,
    mapping: FieldMapping,
) -> CompanyAction:
    if prev_status == "deleted" and prev_hash == row_hash:
        return CompanyAction(
            source_id, "skip", "deletion already handled", row_hash, None, record_id
        )
    if record_id is None:
        return CompanyAction(source_id, "skip", "deleted before it reached Attio", row_hash)
    if mapping.on_deleted == "nothing":
        return CompanyAction(
            source_id,
            "skip",
            "deleted in Salesforce; on_deleted is nothing",
            row_hash,
            None,
            record_id,
        )
    if mapping.on_deleted == "delete":
        return CompanyAction(
            source_id, "delete", "deleted in Salesforce", row_hash, None, record_id
        )
    cleared = {r.target: [] for r in mapping.fields if r.target not in KEPT_ON_CLEAR}
    return CompanyAction(
        source_id, "clear", "deleted in Salesforce", row_hash, None, record_id, cleared
    )
