"""Business days: when a rep's follow-up task falls due, in the rep's own time zone.

Pure: zoneinfo carries the time-zone rules (DST included) and the `holidays` library the public
holidays of a country; nothing here reads a clock or a file.
"""

from __future__ import annotations

import functools
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
SATURDAY_SUNDAY = frozenset({5, 6})
# A year of days without one business day means the calendar is wrong, not that we should spin.
_MAX_DAYS_AHEAD = 366


@functools.cache
def _country_holidays(code: str) -> holidays.HolidayBase:
    # One calendar object per country: it expands year by year as dates are asked about.
    return holidays.country_holidays(code)


def check_holiday_country(code: str | None) -> str | None:
    """`code` upper-cased if the holidays library knows it; ValueError otherwise."""
    if code is None:
        return None
    normalized = code.strip().upper()
    if normalized not in holidays.list_supported_countries():
        raise ValueError(f"{code!r} is not a country the holidays library knows (e.g. US, DE)")
    return normalized


@dataclass(frozen=True)
class HolidayCalendar:
    """Configured dates plus, optionally, the public holidays of one country."""

    dates: frozenset[date] = frozenset()
    country: str | None = None

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day in self.dates:
            return True
        return self.country is not None and day in _country_holidays(self.country)


class BusinessHours(BaseModel):
    """routing.yaml `business_hours`: when follow-up tasks fall due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_due_hour: int = Field(default=9, ge=0, le=23, description="Local hour on the due day.")
    holidays: tuple[date, ...] = Field(default=(), description="Company holidays (ISO dates).")
    holiday_country: str | None = Field(
        default=None, description="Public holidays of this country (a rep may override it)."
    )
    weekend: tuple[Weekday, ...] = ("saturday", "sunday")
    # Lead SLAs count the hours between these local hours of business days (rep's zone).
    day_start_hour: int = Field(default=9, ge=0, le=23, description="Local start of a day.")
    day_end_hour: int = Field(default=17, ge=1, le=24, description="Local end of a day.")

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, code: str | None) -> str | None:
        return check_holiday_country(code)

    @field_validator("weekend")
    @classmethod
    def _some_workdays(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(days)) == len(WEEKDAYS):
            raise ValueError("every day of the week is a weekend day: no task could fall due")
        return days

    @model_validator(mode="after")
    def _day_has_hours(self) -> BusinessHours:
        if self.day_end_hour <= self.day_start_hour:
            raise ValueError("day_end_hour must be after day_start_hour")
        return self

    def calendar(self, country: str | None = None) -> HolidayCalendar:
        """The company holidays plus the public holidays of `country` (default: the file's)."""
        return HolidayCalendar(frozenset(self.holidays), country or self.holiday_country)

    @property
    def weekend_days(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.weekend)


def is_business_day(
    day: date, holidays: Container[date], weekend: Iterable[int] = SATURDAY_SUNDAY
) -> bool:
    return day.weekday() not in set(weekend) and day not in holidays


def next_business_day_deadline(
    received_at_utc: datetime,
    rep_tz: str,
    hour: int,
    holidays: Container[date] = frozenset(),
    weekend: Iterable[int] = SATURDAY_SUNDAY,
    days: int = 1,
) -> datetime:
    """`hour` o'clock local time on the `days`-th business day after the day the lead arrived,
    as the rep sees that day, returned in UTC.

    The arrival day is taken in the rep's zone (23:30 UTC on a Friday is already Saturday in
    Tokyo). The deadline is built on the local calendar and only then converted, so a DST
    change between arrival and deadline moves the UTC time, not the local hour."""
    if received_at_utc.tzinfo is None:
        raise ValueError("received_at_utc must be timezone-aware")
    if not 0 <= hour <= 23:
        raise ValueError(f"hour {hour} is not between 0 and 23")
    if days < 1:
        raise ValueError(f"days {days} is not at least 1")
    zone = ZoneInfo(rep_tz)
    off_days = frozenset(weekend)
    day = received_at_utc.astimezone(zone).date()
    left = days
    for _ in range(_MAX_DAYS_AHEAD):
        day += timedelta(days=1)
        if is_business_day(day, holidays, off_days):
            left -= 1
            if left == 0:
                # An hour inside a spring-forward gap resolves with fold=0, i.e. one hour later.
                return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
    raise ValueError(f"no business day within {_MAX_DAYS_AHEAD} days of {received_at_utc}")
