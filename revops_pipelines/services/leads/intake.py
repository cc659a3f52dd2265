"""The lead flow's intake: form submissions claimed from the inbox and parsed, then normalized
into leads and enriched. What cannot be read or is invalid is quarantined with the reason; each
submission and lead carries the id of its inbox row.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from revops_pipelines.domain.custom_forms import INBOX_SOURCE as CUSTOM_FORMS
from revops_pipelines.domain.custom_forms import FormsConfig, parse_custom_delivery
from revops_pipelines.domain.leads import Lead, LeadRejected, normalize_submission
from revops_pipelines.domain.submissions import (
    FORM_SOURCES,
    Submission,
    SubmissionParseError,
    parse_submission,
)
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.services.inbox import DEFAULT_BATCH_LIMIT, InboxRun
from revops_pipelines.services.leads.enrichment import CompanyEnrichment


@dataclass
class SubmissionBatch:
    claimed: int
    submissions: list[Submission] = field(default_factory=list)
    # (inbox id, source, event id, reason)
    quarantined: list[tuple[int, str, str, str]] = field(default_factory=list)


@dataclass
class LeadBatch:
    leads: list[Lead] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (raw delivery, reason)
    enriched: Counter[str] = field(default_factory=Counter)  # per enrichment status


def claim_submissions(
    run: InboxRun,
    ids: Sequence[int] = (),
    limit: int = DEFAULT_BATCH_LIMIT,
    forms: FormsConfig | None = None,
) -> SubmissionBatch:
    """Claim the run's form rows and parse each into one submission shape (custom forms by their
    `forms.yaml` mapping). Unparseable rows are quarantined and never retried automatically
    (`revops webhooks requeue` puts them back)."""
    rows = run.claim(FORM_SOURCES, ids, limit)
    batch = SubmissionBatch(claimed=len(rows))
    for row in rows:
        try:
            if row.source == CUSTOM_FORMS:
                parsed = parse_custom_delivery(
                    forms or FormsConfig(),
                    row.event_id,
                    row.body,
                    raw_ref=row.ref,
                    received_at=row.received_at,
                )
                batch.submissions.append(dataclasses.replace(parsed, inbox_id=row.id))
                continue
            batch.submissions.append(
                parse_submission(
                    row.source,
                    row.body,
                    raw_ref=row.ref,
                    event_id=row.event_id,
                    received_at=row.received_at,
                    inbox_id=row.id,
                )
            )
        except SubmissionParseError as exc:
            run.quarantine(row.id, str(exc), event_id=row.event_id, source=row.source)
            batch.quarantined.append((row.id, row.source, row.event_id, str(exc)))
    return batch


def normalize_leads(
    run: InboxRun, submissions: Sequence[Submission], enrichment: EnrichmentResource
) -> LeadBatch:
    """Submissions normalized into leads (invalid ones quarantined with the reason), then
    enriched by company domain when an enrichment API is configured (it never blocks a lead)."""
    batch = LeadBatch()
    for submission in submissions:
        try:
            batch.leads.append(normalize_submission(submission))
        except LeadRejected as exc:
            if submission.inbox_id is not None:
                run.quarantine(submission.inbox_id, str(exc), what="submission")
            batch.quarantined.append((submission.raw_ref, str(exc)))
    if enrichment.is_configured():
        cached = CompanyEnrichment(enrichment, run.engine)
        batch.leads = [_enriched(lead, cached, batch.enriched) for lead in batch.leads]
    return batch


def _enriched(lead: Lead, enrichment: CompanyEnrichment, counts: Counter[str]) -> Lead:
    if not lead.company_domain:
        return lead
    result = enrichment.company(lead.company_domain)
    counts[result.status] += 1
    if result.company is None:
        return lead
    profile = result.company
    facts = {
        "name": profile.name,
        "employees": profile.employees,
        "industry": profile.industry,
        "country": profile.country,
        "country_code": profile.country_code,
        "city": profile.city,
        "description": profile.description,
    }
    return dataclasses.replace(lead, enrichment={k: v for k, v in facts.items() if v is not None})
