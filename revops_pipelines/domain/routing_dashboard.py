"""The data team's daily routing table: per rep, leads routed that day, the median time from
webhook to first touch, and SLA breaches (escalations) among those leads. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from statistics import median

from revops_pipelines.domain.markdown import md_table

COLUMNS = ["rep", "leads routed", "first touched", "median minutes to first touch", "SLA breaches"]


def daily_rows(
    assignments: Iterable[Mapping[str, object]],
    seconds_to_touch: Mapping[str, float | None],
    escalated: set[str],
) -> list[dict[str, object]]:
    """One row per rep (sorted by rep), from the day's `routing_assignment` rows (lead_key, rep),
    each lead's seconds to first touch (absent: not touched yet) and the escalated lead keys."""
    per_rep: dict[str, list[str]] = {}
    for row in assignments:
        per_rep.setdefault(str(row["rep"]), []).append(str(row["lead_key"]))
    rows = []
    for rep, leads in sorted(per_rep.items()):
        waits = [s for key in leads if (s := seconds_to_touch.get(key)) is not None]
        rows.append(
            {
                "rep": rep,
                "leads routed": len(leads),
                "first touched": len(waits),
                "median minutes to first touch": round(median(waits) / 60, 1) if waits else None,
                "SLA breaches": sum(1 for key in leads if key in escalated),
            }
        )
    return rows


def as_table_rows(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [tuple("—" if r[c] is None else r[c] for c in COLUMNS) for r in rows]


def markdown(rows: list[dict[str, object]]) -> str:
    """The day's table as markdown (addresses masked, like every metadata table)."""
    return md_table(COLUMNS, as_table_rows(rows))


def days_markdown(days: Sequence[tuple[date, list[dict[str, object]]]]) -> str:
    """One table per day, each under its date."""
    return "\n\n".join(f"**{day.isoformat()}**\n\n{markdown(rows)}" for day, rows in days)
