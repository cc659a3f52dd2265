"""Which deal stages count as won: `won_stages` by status id or by title, emoji-insensitive."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from revops_pipelines.config import config_path, load_model
from revops_pipelines.domain.deal_messages import (
    WON,
    DealFacts,
    DealNotificationConfig,
    deal_facts,
    is_won_stage,
    notification_due,
    stage_title_key,
    won_stages_in_workspace,
)

STATUS_ID = "9b1f6c2e-7d4a-4c1e-8f3b-2a6d5e4c3b21"


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Won 🎉", "won"),
        ("  WON  ", "won"),
        ("🎉 won 🎉", "won"),
        ("Won 👍🏽", "won"),  # skin-tone modifier
        ("Won ❤️", "won"),  # variation selector
        ("Won 👩‍💻", "won"),  # zero-width-joiner sequence
        ("Won 🇩🇪", "won"),  # regional-indicator flag
        ("Closed   Won", "closed won"),
        ("In Progress", "in progress"),
        ("Won (Q4): €1M+", "won (q4): €1m+"),  # punctuation, currency and math signs stay
        ("🎉", ""),
    ],
)
def test_stage_title_key(title: str, key: str) -> None:
    assert stage_title_key(title) == key


@pytest.mark.parametrize(
    ("title", "status_id", "won_stages", "won"),
    [
        ("Won 🎉", None, ("Won 🎉",), True),
        ("Won 🎉", None, ("won",), True),
        ("Won", None, ("Won 🎉",), True),
        (" won ", None, (" WON 🎉 ",), True),
        ("Closed won", None, ("Won 🎉",), False),
        ("Won back later", None, ("Won",), False),
        ("Lost", None, ("Won 🎉",), False),
        ("Renamed stage", STATUS_ID, (STATUS_ID,), True),
        ("Renamed stage", STATUS_ID.upper(), (f" {STATUS_ID} ",), True),
        ("Won 🎉", "other-id", (STATUS_ID,), False),
        (None, None, ("Won 🎉",), False),
        ("🎉", None, ("Won 🎉",), False),
    ],
)
def test_is_won_stage(
    title: str | None, status_id: str | None, won_stages: tuple[str, ...], won: bool
) -> None:
    assert is_won_stage(title, status_id, won_stages) is won


def test_the_default_configuration_names_attios_default_won_stage() -> None:
    shipped = load_model(config_path("deals.yaml"), DealNotificationConfig)
    assert shipped.won_stages == ("Won 🎉",)
    assert DealNotificationConfig().won_stages == ("Won 🎉",)


def test_a_won_stage_that_is_only_emoji_is_refused() -> None:
    with pytest.raises(ValidationError, match="name no stage"):
        DealNotificationConfig(won_stages=("Won 🎉", "🎉"))


def _deal(status: dict) -> dict:
    active = {"active_from": "2026-11-20T10:00:00.000000000Z", "active_until": None}
    return {
        "id": {"workspace_id": "w", "object_id": "o", "record_id": "d1"},
        "values": {
            "name": [{**active, "value": "Rocket"}],
            "stage": [{**active, "status": status}],
        },
    }


def test_a_deal_at_attios_default_won_stage_is_due_under_the_default_config() -> None:
    status = {"id": {"status_id": STATUS_ID}, "title": "Won 🎉", "celebration_enabled": False}
    facts = deal_facts(_deal(status))
    assert (facts.stage, facts.stage_id) == ("Won 🎉", STATUS_ID)
    assert notification_due(facts, DealNotificationConfig(), created=False) == WON
    by_id = DealNotificationConfig(won_stages=(STATUS_ID,))
    renamed = deal_facts(_deal({**status, "title": "Signed"}))
    assert notification_due(renamed, by_id, created=False) == WON
    assert notification_due(renamed, DealNotificationConfig(), created=False) is None


def test_facts_without_a_status_id_still_match_by_title() -> None:
    facts = DealFacts("d1", "Rocket", "won", None, None, None, None, None)
    assert facts.stage_id is None
    assert notification_due(facts, DealNotificationConfig(), created=False) == WON


def test_celebration_enabled_counts_as_won_only_when_the_option_is_on() -> None:
    celebrating = {"id": {"status_id": "s-party"}, "title": "Signed", "celebration_enabled": True}
    facts = deal_facts(_deal(celebrating))
    assert facts.stage_celebration is True
    assert DealNotificationConfig().won_when_celebration_enabled is False
    assert notification_due(facts, DealNotificationConfig(), created=False) is None
    opted_in = DealNotificationConfig(won_when_celebration_enabled=True)
    assert notification_due(facts, opted_in, created=False) == WON
    quiet = deal_facts(_deal({**celebrating, "celebration_enabled": False}))
    assert notification_due(quiet, opted_in, created=False) is None


def test_won_stages_in_workspace_names_the_matching_unarchived_statuses() -> None:
    statuses = [
        {"id": {"status_id": "s1"}, "title": "Lead", "is_archived": False},
        {"id": {"status_id": "s2"}, "title": "Won 🎉", "is_archived": False},
        {"id": {"status_id": "s3"}, "title": "Won", "is_archived": True},
    ]
    assert won_stages_in_workspace(statuses, ("Won 🎉",)) == ["Won 🎉"]
    assert won_stages_in_workspace(statuses, ("s1",)) == ["Lead"]
    assert won_stages_in_workspace(statuses[:1] + statuses[2:], ("Won",)) == []
