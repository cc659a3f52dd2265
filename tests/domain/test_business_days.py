"""Follow-up deadlines: the next business day at a local hour, in the rep's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.business_days import (
    BusinessHours,
    HolidayCalendar,
    next_business_day_deadline,
)
from revops_pipelines.domain.routing import RoutingConfig
from revops_pipelines.domain.routing_config import owner_task_deadline


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_friday_lead_is_due_monday_at_the_local_hour() -> None:
    due = next_business_day_deadline(_utc(2026, 11, 20, 15, 0), "America/New_York", 9)
    assert due == _utc(2026, 11, 23, 14, 0)  # Monday 09:00 EST
    assert due.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") == "Mon 09:00"


def test_weekend_arrivals_wait_for_monday_and_a_midweek_one_for_the_next_day() -> None:
    assert next_business_day_deadline(_utc(2026, 11, 22, 12), "Europe/London", 9) == _utc(
        2026, 11, 23, 9
    )
    assert next_business_day_deadline(_utc(2026, 11, 18, 12), "Europe/London", 9) == _utc(
        2026, 11, 19, 9
    )


def test_configured_holidays_are_skipped() -> None:
    # Thu 24 and Fri 25 December are company holidays: a Wednesday lead waits until Monday.
    holidays = HolidayCalendar(frozenset({date(2026, 12, 24), date(2026, 12, 25)}))
    due = next_business_day_deadline(_utc(2026, 12, 23, 10), "Europe/Berlin", 9, holidays)
    assert due == _utc(2026, 12, 28, 8)  # Monday 09:00 CET
    assert next_business_day_deadline(_utc(2026, 12, 23, 10), "Europe/Berlin", 9) == _utc(
        2026, 12, 24, 8
    )


def test_a_country_calendar_from_the_holidays_library_is_skipped() -> None:
    # Thanksgiving, Thursday 26 November 2026, is a US public holiday; the Friday is not.
    us = HolidayCalendar(country="US")
    due = next_business_day_deadline(_utc(2026, 11, 25, 16), "America/Chicago", 10, us)
    assert due == _utc(2026, 11, 27, 16)  # Friday 10:00 CST


def test_the_local_hour_holds_across_a_dst_change() -> None:
    # US clocks go back on Sunday 1 November 2026: 09:00 is 13:00 UTC before, 14:00 after.
    before = next_business_day_deadline(_utc(2026, 10, 23, 18), "America/New_York", 9)
    after = next_business_day_deadline(_utc(2026, 10, 30, 18), "America/New_York", 9)
    assert (before, after) == (_utc(2026, 10, 26, 13), _utc(2026, 11, 2, 14))
    # Spring forward (Sunday 8 March 2026): Friday lead, Monday 09:00 EDT is 13:00 UTC.
    spring = next_business_day_deadline(_utc(2026, 3, 6, 18), "America/New_York", 9)
    assert spring == _utc(2026, 3, 9, 13)


def test_the_arrival_day_is_the_reps_day_not_utcs() -> None:
    friday_night = _utc(2026, 11, 20, 23, 30)  # already Saturday 08:30 in Tokyo
    assert next_business_day_deadline(friday_night, "Asia/Tokyo", 9) == _utc(2026, 11, 23, 0)
    assert next_business_day_deadline(friday_night, "America/Los_Angeles", 9) == _utc(
        2026, 11, 23, 17
    )
    thursday_night = _utc(2026, 11, 19, 23, 30)  # Friday in Tokyo, still Thursday in New York
    assert next_business_day_deadline(thursday_night, "Asia/Tokyo", 9) == _utc(2026, 11, 23, 0)
    assert next_business_day_deadline(thursday_night, "America/New_York", 9) == _utc(
        2026, 11, 20, 14
    )


def test_a_configured_weekend_replaces_saturday_and_sunday() -> None:
    hours = BusinessHours(weekend=("friday", "saturday"))
    due = next_business_day_deadline(
        _utc(2026, 11, 19, 8), "Asia/Dubai", 9, weekend=hours.weekend_days
    )
    assert due == _utc(2026, 11, 22, 5)  # Sunday 09:00 in Dubai


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_business_day_deadline(datetime(2026, 11, 20, 12), "UTC", 9)
    with pytest.raises(ValueError, match="no business day"):
        next_business_day_deadline(_utc(2026, 11, 20), "UTC", 9, weekend=range(7))
    with pytest.raises(ValueError, match="not a country"):
        BusinessHours(holiday_country="XX")


def test_the_routing_file_gives_each_rep_their_zone_hour_and_holidays(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "business_hours:\n  task_due_hour: 10\n  holidays: [2026-11-27]\n"
        "reps:\n"
        "  - {email: ny@x.io, name: NY, time_zone: America/New_York, holiday_country: US}\n"
        "  - {email: tk@x.io, name: TK, time_zone: Asia/Tokyo, holiday_country: JP}\n"
        "pools:\n  - {name: all, reps: [ny@x.io, tk@x.io]}\n"
        "rules:\n  - {name: default, pool: all}\n"
    )
    config = load_model(path, RoutingConfig)
    arrived = _utc(2026, 11, 25, 12)  # Wednesday
    # New York: Thursday is Thanksgiving (US calendar), Friday a company holiday -> Monday.
    assert config.task_deadline("ny@x.io", arrived) == _utc(2026, 11, 30, 15)
    # Tokyo (21:00 Wednesday there): Thursday is an ordinary working day in Japan.
    assert config.task_deadline("TK@x.io", arrived) == _utc(2026, 11, 26, 1)
    path.write_text(path.read_text().replace("task_due_hour: 10", "task_due_hour: 24"))
    with pytest.raises(ConfigError, match=r"routing.yaml:2: business_hours.task_due_hour"):
        load_model(path, RoutingConfig)


def test_n_business_days_skip_weekends_and_holidays_in_the_reps_zone() -> None:
    # Thursday 24 December 2026, 15:00 UTC; Christmas is a company holiday: two business days
    # later is Monday 28th, then Tuesday 29th at 09:00 in Madrid.
    calendar = HolidayCalendar(frozenset({date(2026, 12, 25)}))
    due = next_business_day_deadline(_utc(2026, 12, 24, 15), "Europe/Madrid", 9, calendar, days=2)
    assert due.astimezone(ZoneInfo("Europe/Madrid")) == datetime(
        2026, 12, 29, 9, tzinfo=ZoneInfo("Europe/Madrid")
    )
    with pytest.raises(ValueError, match="days 0"):
        next_business_day_deadline(_utc(2026, 12, 24, 15), "UTC", 9, days=0)


def test_a_pipeline_task_is_due_in_the_owners_zone_when_they_are_a_rep() -> None:
    config = load_model(config_path("routing.yaml"), RoutingConfig)
    friday = _utc(2026, 12, 4, 20)  # Friday 12:00 in Los Angeles, Saturday 04:00 in Singapore
    los_angeles = owner_task_deadline(config, "Morgan.Lee@northwindsales.io", friday, 2)
    assert los_angeles.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%a %d %H:%M") == (
        "Tue 08 09:00"
    )
    singapore = owner_task_deadline(config, "liam.chen@northwindsales.io", friday, 2)
    assert singapore.astimezone(ZoneInfo("Asia/Singapore")).strftime("%a %d %H:%M") == (
        "Tue 08 09:00"
    )
    # Not a rep of routing.yaml: UTC, on the company calendar; and without a routing file.
    for routing in (config, None):
        stranger = owner_task_deadline(routing, "someone@elsewhere.example", friday, 2)
        assert stranger == _utc(2026, 12, 8, 9)
