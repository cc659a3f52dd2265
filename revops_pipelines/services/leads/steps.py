"""What every lead step reports: a step the ledger holds as done."""

from __future__ import annotations

from revops_pipelines.domain.audit import StepResult
from revops_pipelines.infra.send_once import EffectOutcome


def done_step(step: str, outcome: EffectOutcome, detail: str) -> StepResult:
    """A step the ledger holds as done, saying so when an earlier attempt did it (the audit note
    of a retried lead then tells which steps this attempt repeated: none)."""
    if outcome.status == "skipped":
        detail = f"{detail} (on an earlier attempt)"
    return StepResult(step, "done", detail)
