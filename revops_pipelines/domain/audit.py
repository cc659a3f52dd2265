"""The audit note written on each lead's person: what the workflow did, step by step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from revops_pipelines.domain.leads import Lead

TASK_PREFIX = "Form submission: "


@dataclass(frozen=True)
class StepResult:
    step: str
    status: str  # done | skipped | failed | not configured
    detail: str = ""


def task_content(lead: Lead) -> str:
    """`Form submission: <first 100 characters of the message>` (Attio caps tasks at 2,000)."""
    text = " ".join((lead.message or "(no message)").split())
    return TASK_PREFIX + (text if len(text) <= 100 else text[:99] + "…")


def audit_title(lead: Lead) -> str:
    """Unique per lead, so the note can be found again after a lost answer."""
    return f"Inbound lead workflow ({lead.key})"


def audit_markdown(lead: Lead, steps: list[StepResult], finished_at: datetime) -> str:
    failed = [s for s in steps if s.status == "failed"]
    status = "completed with problems" if failed else "completed"
    lines = [
        f"## Inbound lead: {status}",
        "",
        f"- **Form:** {lead.source_form} ({lead.source})",
        f"- **Submitted:** {lead.submitted_at.isoformat()}",
        f"- **Email:** {lead.email}",
        f"- **Raw delivery:** {lead.raw_ref}",
        "",
        "### Steps",
        "",
    ]
    marks = {"done": "✅", "skipped": "⏭️", "failed": "❌", "not configured": "○"}
    for step in steps:
        detail = f": {step.detail}" if step.detail else ""
        lines.append(f"- {marks.get(step.status, '•')} **{step.step}** {step.status}{detail}")
    lines += ["", f"_Written by revops-pipelines at {finished_at.isoformat()}_"]
    return "\n".join(lines)
