"""Pipeline rules: which transitions fire which rules, their keys, deadlines in business days,
and what a workspace lacks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.pipeline_rules import (
    PipelineRule,
    PipelineRules,
    StageSeen,
    current_stage,
    is_transition,
    missing_in_workspace,
    rule_key,
    rules_due,
)

PROPOSAL = StageSeen("s-prop", "Proposal", "2026-12-01T10:00:00.000000000Z")
QUALIFIED = StageSeen("s-qual", "Qualified", "2026-11-30T10:00:00.000000000Z")
RULE = PipelineRule(
    name="r", list="sales_pipeline", to_stage="proposal 📨", slack={"channel": "#d"}
)
FROM_QUALIFIED = PipelineRule(
    name="q",
    list="sales_pipeline",
    to_stage="Proposal",
    from_stage="s-qual",
    task={"due_business_days": 2},
)


def test_the_shipped_rules_load() -> None:
    rules = load_model(config_path("pipelines.yaml"), PipelineRules)
    [rule] = rules.rules
    assert (rule.list, rule.to_stage, rule.slack.channel) == (
        "sales_pipeline",
        "Proposal",
        "#deals",
    )
    assert rule.task is not None and rule.task.due_business_days == 2


@pytest.mark.parametrize(
    ("previous", "current", "fired"),
    [
        (None, PROPOSAL, ["r"]),  # first seen at the stage
        (QUALIFIED, PROPOSAL, ["r", "q"]),
        (PROPOSAL, PROPOSAL, []),  # a burst or a redelivery of the same move
        (StageSeen("s-prop", "Proposal", "earlier"), PROPOSAL, ["r"]),  # left and came back
        (PROPOSAL, QUALIFIED, []),
        (QUALIFIED, None, []),
    ],
)
def test_rules_due(previous: StageSeen | None, current: StageSeen | None, fired: list[str]) -> None:
    assert [r.name for r in rules_due([RULE, FROM_QUALIFIED], previous, current)] == fired


def test_a_renamed_title_with_the_same_status_is_no_transition() -> None:
    renamed = StageSeen(PROPOSAL.status_id, "Proposal sent", PROPOSAL.since)
    assert not is_transition(PROPOSAL, renamed)


def test_rule_keys_differ_per_transition() -> None:
    again = StageSeen("s-prop", "Proposal", "2026-12-05T10:00:00.000000000Z")
    assert rule_key(RULE, "l", "e", PROPOSAL) != rule_key(RULE, "l", "e", again)
    assert rule_key(RULE, "l", "e", PROPOSAL) == "pipeline:l:e:r:2026-12-01T10:00:00.000000000Z"


def test_current_stage_reads_the_active_status() -> None:
    def value(title: str, until: str | None) -> dict:
        return {
            "active_from": "t-" + title,
            "active_until": until,
            "status": {"id": {"status_id": "id-" + title}, "title": title},
        }

    entry = {"entry_values": {"stage": [value("Qualified", "x"), value("Proposal", None)]}}
    assert current_stage(entry, "stage") == StageSeen("id-Proposal", "Proposal", "t-Proposal")
    assert current_stage({"entry_values": {"stage": []}}, "stage") is None


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValidationError, match="needs an action"):
        PipelineRule(name="x", list="l", to_stage="S")
    with pytest.raises(ValidationError, match="unique"):
        PipelineRules(rules=(RULE, RULE))
    with pytest.raises(ValidationError, match="names no stage"):
        PipelineRule(name="x", list="l", to_stage="🎉", slack={"channel": "#d"})
    other = PipelineRule(
        name="y",
        list="sales_pipeline",
        stage_attribute="phase",
        to_stage="S",
        slack={"channel": "#d"},
    )
    with pytest.raises(ValidationError, match="different stage_attribute"):
        PipelineRules(rules=(RULE, other))


def test_missing_in_workspace_names_the_list_and_the_stage() -> None:
    statuses = [
        {"id": {"status_id": "s-prop"}, "title": "Proposal", "is_archived": False},
        {"id": {"status_id": "s-old"}, "title": "Negotiation", "is_archived": True},
    ]
    typo = PipelineRule(
        name="t", list="sales_pipeline", to_stage="Negotiation", slack={"channel": "#d"}
    )
    gone = PipelineRule(name="g", list="renewals", to_stage="Won", slack={"channel": "#d"})
    problems = missing_in_workspace(
        [RULE, typo, gone], {"sales_pipeline": "L1", "L1": "L1"}, {("L1", "stage"): statuses}
    )
    assert problems[0].startswith("rule 't': list 'sales_pipeline' has no stage 'Negotiation'")
    assert problems[1] == "rule 'g': the workspace has no list 'renewals'"
    assert len(problems) == 2
