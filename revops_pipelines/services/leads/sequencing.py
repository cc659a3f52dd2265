"""The lead's sequencing step: the pool's Outreach sequence or Salesloft cadence (routing.yaml
`sequencer`), enrolled once through the effect ledger. Non-critical: a failure is reported and
never blocks the lead's Attio records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from revops_pipelines.domain.audit import StepResult
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.infra.send_once import Effect, run_once
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.services.leads.steps import done_step
from revops_pipelines.store.ledger import LedgerTable

if TYPE_CHECKING:
    from revops_pipelines.services.leads.flow import RoutedLead


async def enroll(
    routed: RoutedLead,
    config: RoutingConfig,
    engine: sa.Engine,
    outreach: OutreachResource,
    salesloft: SalesloftResource | None,
) -> StepResult:
    pool = config.pool(routed.decision.pool)
    if routed.lead.marketing_consent is False:
        # A lead who declined marketing email on the form is routed, tasked and announced to
        # the rep as any other, but never put on an automated email sequence.
        return StepResult(pool.sequencer, "skipped", "declined marketing email on the form")
    if pool.sequencer == "salesloft":
        return await _salesloft(routed, pool.salesloft_cadence_id or 0, engine, salesloft)
    return await _outreach(routed, config, engine, outreach)


async def _salesloft(
    routed: RoutedLead, cadence: int, engine: sa.Engine, salesloft: SalesloftResource | None
) -> StepResult:
    if salesloft is None or not salesloft.is_configured():
        problem = salesloft.configuration_problem() if salesloft else None
        return StepResult("salesloft", "not configured", problem or "set SALESLOFT_API_KEY")
    # add_to_cadence_once looks before it adds, so it is its own look-before-resend.
    return await _enroll_once(
        routed, engine, "salesloft", salesloft.add_to_cadence_once, "cadence", cadence
    )


async def _outreach(
    routed: RoutedLead, config: RoutingConfig, engine: sa.Engine, outreach: OutreachResource
) -> StepResult:
    if not outreach.is_configured():
        return StepResult("outreach", "not configured", outreach.configuration_problem() or "")
    sequence = config.pool(routed.decision.pool).outreach_sequence_id
    if sequence is None:
        return StepResult("outreach", "skipped", f"pool {routed.decision.pool} has no sequence")
    # enroll_once finds before it creates, so it is its own look-before-resend.
    return await _enroll_once(
        routed, engine, "outreach", outreach.enroll_once, "sequence", sequence
    )


async def _enroll_once(
    routed: RoutedLead,
    engine: sa.Engine,
    step: str,
    call: Callable[[str, str | None, str | None, str | None, int], object],
    target: str,
    target_id: int,
) -> StepResult:
    """`call(email, first, last, company, target_id)` once per lead through the ledger; a failure
    is reported (e.g. Salesloft's 422 message), never blocking the lead."""
    lead = routed.lead

    async def send() -> Effect:
        ref = await asyncio.to_thread(
            call, lead.email, lead.first_name, lead.last_name, lead.company_name, target_id
        )
        return Effect(str(ref), {target: target_id})

    try:
        done = await run_once(LedgerTable(engine), f"{lead.key}:{step}", step, send)
    except Exception as exc:  # non-critical: reported, never blocks the lead
        return StepResult(step, "failed", str(exc))
    return done_step(step, done, f"{target} {target_id}")
