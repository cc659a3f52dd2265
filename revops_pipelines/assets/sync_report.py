"""Metadata for the sync assets: counts and markdown tables a data team reads in the UI."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import dagster as dg

from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.domain.company_mapping import REJECT_REASON, SOURCE_ID
from revops_pipelines.domain.markdown import md_cell as _cell
from revops_pipelines.services.company_sync.sync import CompanySyncResult

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

SAMPLE = 10


def rejection_table(rejected: pd.DataFrame) -> str:
    if rejected.empty:
        return "No rejected rows."
    lines = ["| Salesforce Id | reason |", "|---|---|"]
    for _, row in rejected.head(SAMPLE).iterrows():
        lines.append(f"| {row[SOURCE_ID]} | {_cell(row[REJECT_REASON])} |")
    if len(rejected) > SAMPLE:
        lines.append(f"| … | {len(rejected) - SAMPLE} more |")
    return "\n".join(lines)


def company_sync_report(result: CompanySyncResult, *, dry_run: bool) -> dict[str, Any]:
    """Counts of what happened (or, in a dry run, would happen) and sample problem rows."""
    planned = Counter(a.operation for a in result.planned)
    upserts = [a for a in result.planned if a.operation == "upsert"]
    if dry_run:
        created = sum(1 for a in upserts if a.reason == "new")
        updated = len(upserts) - created
        rejected = planned["reject"]
        deleted = planned["delete"] + planned["clear"]
    else:
        done = [o for o in result.outcomes if o.operation not in ("reject", "conflict", "skip")]
        created = sum(1 for o in done if o.status == "ok" and o.operation == "new")
        updated = sum(
            1 for o in done if o.status == "ok" and o.operation not in ("new", "delete", "clear")
        )
        rejected = sum(1 for o in result.outcomes if o.status == "rejected")
        deleted = sum(1 for o in done if o.status == "deleted")
    metadata: dict[str, Any] = {
        "dry_run": dry_run,
        "read": result.rows,
        "created": created,
        "updated": updated,
        "unchanged": result.unchanged,
        "rejected": rejected,
        "conflicts": planned["conflict"],
        "deleted_or_cleared": deleted,
        "errors": result.errors,
    }
    problems = [o for o in result.outcomes if o.status in ("rejected", "error", "conflict")]
    if problems:
        lines = ["| Salesforce Id | status | message |", "|---|---|---|"]
        lines += [f"| {o.source_id} | {o.status} | {_cell(o.message)} |" for o in problems[:SAMPLE]]
        metadata["sample_problems"] = dg.MetadataValue.md("\n".join(lines))
    if dry_run:
        lines = ["| Salesforce Id | would | why |", "|---|---|---|"]
        lines += [
            f"| {a.source_id} | {a.operation} | {_cell(a.reason)} |"
            for a in result.planned
            if a.operation in ("upsert", "delete", "clear")
        ][:SAMPLE]
        metadata["planned_writes"] = dg.MetadataValue.md("\n".join(lines))
    if result.reconciliation is not None:
        rec = result.reconciliation
        metadata["drifted"] = len(rec.drifted)
        metadata["missing_in_attio"] = len(rec.missing)
        metadata["orphans"] = len(rec.orphans)
        if rec.orphans:
            lines = ["| company | salesforce_id | link |", "|---|---|---|"]
            for company in rec.orphans[:SAMPLE]:
                name = first_value(company, "name") or "(no name)"
                sf_id = first_value(company, "salesforce_id")
                lines.append(
                    f"| {_cell(name, 60)} | {sf_id} | [open]({company.get('web_url', '')}) |"
                )
            metadata["sample_orphans"] = dg.MetadataValue.md("\n".join(lines))
    outcomes = Counter(f"{o.operation}:{o.status}" for o in result.outcomes)
    metadata["outcomes"] = dg.MetadataValue.json(dict(outcomes))
    return metadata
