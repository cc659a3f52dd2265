"""The company sync's read side: Salesforce accounts of a window, read with queryAll so deleted
accounts arrive too, into one frame with a column per field the mapping reads.

A read that cannot succeed by retrying (Salesforce not configured, a field the org lacks, the
org's API limit reached) stops with `AccountsReadStopped`; nothing downstream has been written,
so the next run reads the same window again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from revops_pipelines.domain.field_mapping import FieldMapping
from revops_pipelines.resources.salesforce import (
    SalesforceRequestLimitExceeded,
    SalesforceResource,
    SalesforceUnknownField,
)

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

ReadMethod = Literal["rest", "bulk", "auto"]


class AccountsReadStopped(RuntimeError):
    """The read stopped for a reason a retry cannot fix; the message says which."""


@dataclass(frozen=True)
class AccountsRead:
    frame: pd.DataFrame
    deleted: int


def read_accounts(
    salesforce: SalesforceResource,
    mapping: FieldMapping,
    start: datetime,
    end: datetime,
    *,
    method: ReadMethod = "auto",
) -> AccountsRead:
    """Accounts whose SystemModstamp falls in `[start, end)`, as one frame."""
    import pandas as pd

    problem = salesforce.configuration_problem()
    if problem:
        raise AccountsReadStopped(f"Salesforce is not configured: {problem}")
    rows: list[dict] = []
    try:
        for page in salesforce.read_accounts(mapping.source_fields, start, end, method=method):
            rows.extend(page)
    except SalesforceUnknownField as exc:
        raise AccountsReadStopped(
            f"config/field_mapping.yaml reads a field the org lacks: {exc}"
        ) from exc
    except SalesforceRequestLimitExceeded as exc:
        raise AccountsReadStopped(
            f"Salesforce API limit reached after {len(rows)} rows: {exc}"
        ) from exc
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*mapping.source_fields])))
    deleted = int(frame["IsDeleted"].astype(str).str.lower().eq("true").sum())
    return AccountsRead(frame, deleted)
