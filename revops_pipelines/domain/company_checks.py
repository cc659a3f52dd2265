"""The quality of a batch of mapped companies: what the sync's asset checks decide on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from revops_pipelines.domain.company_mapping import (
    DOMAIN_PATTERN,
    IS_DELETED,
    REJECT_REASON,
    SOURCE_ID,
)

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class MappedQuality:
    total: int
    rejected: pd.DataFrame  # the rejected rows, with their reason
    without_domain: int  # live rows with no domain (created once, tracked in the id map)
    duplicated_ids: int
    bad_domains: int

    @property
    def rejected_share(self) -> float:
        return len(self.rejected) / self.total if self.total else 0.0


def mapped_quality(mapped: pd.DataFrame) -> MappedQuality:
    """Counts over the mapped frame: rejects, missing and malformed domains, duplicated ids."""
    live = mapped[~mapped[IS_DELETED]]
    return MappedQuality(
        total=len(mapped),
        rejected=mapped[mapped[REJECT_REASON].notna()],
        without_domain=int(live["domains"].isna().sum()),
        duplicated_ids=int(mapped[SOURCE_ID].duplicated().sum()),
        bad_domains=int((~live["domains"].dropna().str.fullmatch(DOMAIN_PATTERN)).sum()),
    )
