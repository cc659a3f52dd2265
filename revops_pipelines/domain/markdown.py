"""Small markdown tables for the metadata a data team reads in the Dagster UI."""

from __future__ import annotations

from collections.abc import Sequence

from revops_pipelines.domain.personal_data import mask_personal

CELL_LIMIT = 160


def md_cell(value: object, limit: int = CELL_LIMIT) -> str:
    """One table cell: personal data masked (metadata is read by everyone with the UI), pipes
    escaped, newlines flattened, clipped to `limit` characters."""
    text = mask_personal(str(value)).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 50) -> str:
    """A table of at most `limit` rows (the rest counted in a last line); `_none_` when empty."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | " + " | " * (len(headers) - 1))
    return "\n".join(lines) if rows else "_none_"
