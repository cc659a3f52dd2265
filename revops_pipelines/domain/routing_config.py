"""The models of `config/routing.yaml`: reps, pools, rules and their conditions.

Load it with `config.load_model(path, RoutingConfig)`; `LeadFacts` is what the rules look at.
Validation checks the whole file (cross references, the catch-all rule) so a bad config fails
at load with the line of the offending item. The decisions are in `domain/routing.py`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from revops_pipelines.domain.business_days import (
    BusinessHours,
    check_holiday_country,
    next_business_day_deadline,
)

ROUTING_FILE = "routing.yaml"
Strategy = Literal["round_robin", "weighted", "capacity"]
Operator = Literal["eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt", "contains"]
LeadField = Literal[
    "email", "company_domain", "employee_count", "industry", "region", "country", "source"
]
Scalar = int | float | str
NUMERIC_FIELDS = frozenset({"employee_count"})
# Reps are Attio workspace members, matched by email address: compare them lower-cased.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.\w+$"
    ),
]
# operator -> (how a reason shows it, the test on the case-folded lead value and rule value)
_OPS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "eq": ("=", operator.eq),
    "ne": ("≠", operator.ne),
    "in": ("in", lambda actual, values: actual in values),
    "not_in": ("not in", lambda actual, values: actual not in values),
    "gte": ("≥", operator.ge),
    "gt": (">", operator.gt),
    "lte": ("≤", operator.le),
    "lt": ("<", operator.lt),
    "contains": ("contains", lambda actual, value: str(value) in str(actual)),
}


@dataclass(frozen=True)
class LeadFacts:
    """What routing may look at; the lead flow fills it (None = unknown, never matches)."""

    email: str
    company_domain: str | None = None
    employee_count: int | None = None
    industry: str | None = None
    region: str | None = None
    country: str | None = None
    source: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The facts as stored with the live decision (JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LeadFacts:
        """Stored facts back; a field this version does not know is ignored, one it lacks is
        unknown (None), so rows stored by an older or newer version still load."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Absence(_Model):
    """Out of office from `start` to `end`, both days included."""

    start: date
    end: date
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Rep(_Model):
    """An Attio workspace member (by email) who can own leads."""

    email: Email
    name: str = Field(min_length=1)
    time_zone: str
    weight: float = Field(default=1.0, ge=0, description="weighted pools; 0 pauses the rep")
    daily_capacity: int | None = Field(default=None, ge=0)
    holiday_country: str | None = None
    slack_channel: str | None = None
    # Mentioned as <@id>; when absent the lead flow looks the rep up by email in Slack.
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    unavailable: tuple[Absence, ...] = ()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name: Europe/Berlin)") from None
        return name

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, code: str | None) -> str | None:
        return check_holiday_country(code)

    def absence_on(self, day: date) -> Absence | None:
        return next((a for a in self.unavailable if a.start <= day <= a.end), None)


class Pool(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", max_length=64)
    strategy: Strategy = "round_robin"
    reps: tuple[Email, ...] = Field(min_length=1)
    outreach_sequence_id: int | None = Field(default=None, ge=1)
    # Lead SLA (flow C): a follow-up task still open this many business hours (in the rep's time
    # zone) after routing is escalated once in `sla_channel` (default: the rep's channel, else
    # #sales-leads) and, with `sla_reroute`, the lead goes with a new task to the rep the pool's
    # `strategy` picks among its other available reps.
    sla_business_hours: float | None = Field(default=None, gt=0, le=2000)
    sla_reroute: bool = False
    sla_channel: str | None = Field(default=None, min_length=2)
    # Which sequencer enrolls the pool's leads: Outreach's sequence or Salesloft's cadence.
    sequencer: Literal["outreach", "salesloft"] = "outreach"
    salesloft_cadence_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _sequencer_has_its_id(self) -> Pool:
        if self.sequencer == "salesloft" and self.salesloft_cadence_id is None:
            raise ValueError("sequencer salesloft needs salesloft_cadence_id")
        return self


class Condition(_Model):
    """`field op value`; strings compare case-insensitively, an unknown value never matches."""

    field: LeadField
    op: Operator
    value: Scalar | tuple[Scalar, ...]

    @model_validator(mode="after")
    def _fits(self) -> Condition:
        numeric, listed = self.field in NUMERIC_FIELDS, self.op in ("in", "not_in")
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        if listed != isinstance(self.value, tuple):
            raise ValueError(f"{self.op} takes {'a list' if listed else 'one value'}")
        if self.op in ("gte", "gt", "lte", "lt") and not numeric:
            raise ValueError(f"{self.op} compares numbers; {self.field} is text")
        if self.op == "contains" and numeric:
            raise ValueError(f"contains looks inside text; {self.field} is a number")
        if numeric != all(isinstance(v, int | float) for v in values):
            kind = "a number" if numeric else "text"
            raise ValueError(f"{self.field} is {kind}: compare it with {kind} (quote text)")
        return self

    def holds(self, lead: LeadFacts) -> bool:
        actual = _fold(getattr(lead, self.field))
        return actual not in (None, "") and _OPS[self.op][1](actual, _fold(self.value))

    def explain(self, lead: LeadFacts) -> str:
        shown = self.value
        if isinstance(shown, tuple):
            shown = "[" + ", ".join(str(v) for v in shown) + "]"
        return f"{self.field} {getattr(lead, self.field)} {_OPS[self.op][0]} {shown}"


def _fold(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, tuple):
        return tuple(_fold(v) for v in value)
    return value


class Rule(_Model):
    """Leads matching every condition of `when` go to `pool`; no conditions = the catch-all."""

    name: str = Field(min_length=1, max_length=64)
    pool: str
    when: tuple[Condition, ...] = ()

    def matches(self, lead: LeadFacts) -> bool:
        return all(condition.holds(lead) for condition in self.when)

    def explain(self, lead: LeadFacts) -> str:
        return " and ".join(c.explain(lead) for c in self.when) or "catch-all"


class HighValue(_Model):
    """A lead is high-value when any condition of `when_any` holds or it matched one of `rules`;
    it is then also posted, once, to `channel`."""

    channel: str = Field(min_length=1)
    when_any: tuple[Condition, ...] = ()
    rules: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> HighValue:
        if not (self.when_any or self.rules):
            raise ValueError("give when_any conditions or rules, or leave high_value out")
        return self

    def reason(self, lead: LeadFacts, rule: str) -> str | None:
        """Why the lead is high-value, or None when it is not."""
        if rule in self.rules:
            return f"rule {rule}"
        held = next((c for c in self.when_any if c.holds(lead)), None)
        return held.explain(lead) if held else None


class RoutingConfig(_Model):
    business_hours: BusinessHours = BusinessHours()
    reps: tuple[Rep, ...] = Field(min_length=1)
    pools: tuple[Pool, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)
    high_value: HighValue | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> RoutingConfig:
        problems = list(self._problems())
        if problems:
            # A ValidationError keeps each problem's own location, which the config loader
            # turns into the line of the offending item (a ValueError would point at the top).
            details = [
                InitErrorDetails(type=PydanticCustomError("routing", why), loc=loc, input=None)
                for loc, why in problems
            ]
            raise ValidationError.from_exception_data("RoutingConfig", details)
        return self

    def _problems(self) -> Iterable[tuple[tuple[str | int, ...], str]]:
        reps = {r.email: r for r in self.reps}
        for kind, names in (
            ("reps", [r.email for r in self.reps]),
            ("pools", [p.name for p in self.pools]),
            ("rules", [r.name for r in self.rules]),
        ):
            yield from (
                ((kind, i), f"{n} is defined twice")
                for i, n in enumerate(names)
                if names.index(n) != i
            )
        used = {email for p in self.pools for email in p.reps}
        for i, rep in enumerate(self.reps):
            if rep.email not in used:
                yield ("reps", i, "email"), f"{rep.email} is in no pool"
        for i, pool in enumerate(self.pools):
            for j, email in enumerate(pool.reps):
                if pool.reps.index(email) != j:
                    yield ("pools", i, "reps", j), f"{email} is listed twice"
                elif email not in reps:
                    yield ("pools", i, "reps", j), f"{email} is not one of the reps"
                elif pool.strategy == "capacity" and reps[email].daily_capacity is None:
                    yield ("pools", i, "reps", j), f"{email} needs a daily_capacity here"
        pools, last = {p.name for p in self.pools}, len(self.rules) - 1
        for i, rule in enumerate(self.rules):
            if rule.pool not in pools:
                yield ("rules", i, "pool"), f"no pool named {rule.pool!r}"
            if i < last and not rule.when:
                yield ("rules", i), f"{rule.name} has no conditions: the rules after it never match"
        if self.rules[last].when:
            yield ("rules", last, "when"), "the last rule must be a catch-all with no conditions"
        names = {r.name for r in self.rules}
        for i, name in enumerate(self.high_value.rules if self.high_value else ()):
            if name not in names:
                yield ("high_value", "rules", i), f"no rule named {name!r}"

    def rep(self, email: str) -> Rep:
        return next(r for r in self.reps if r.email == email.lower())

    def pool(self, name: str) -> Pool:
        return next(p for p in self.pools if p.name == name)

    @property
    def catch_all_pool(self) -> Pool:
        return self.pool(self.rules[-1].pool)

    def task_deadline(self, rep_email: str, received_at: datetime, days: int = 1) -> datetime:
        """When the rep's task is due (UTC): `task_due_hour` on the `days`-th business day
        after `received_at`, in the rep's time zone and calendar."""
        rep, hours = self.rep(rep_email), self.business_hours
        calendar = hours.calendar(rep.holiday_country)
        return next_business_day_deadline(
            received_at, rep.time_zone, hours.task_due_hour, calendar, hours.weekend_days, days
        )


def owner_task_deadline(
    config: RoutingConfig | None, owner_email: str | None, start: datetime, days: int
) -> datetime:
    """A task for an Attio member due `days` business days after `start`, at `task_due_hour`:
    in their own time zone and holidays when they are a rep of `config`, else in UTC on the
    company calendar (the defaults without a routing config)."""
    email = (owner_email or "").lower()
    if config is not None and any(r.email == email for r in config.reps):
        return config.task_deadline(email, start, days)
    hours = config.business_hours if config is not None else BusinessHours()
    return next_business_day_deadline(
        start, "UTC", hours.task_due_hour, hours.calendar(), hours.weekend_days, days
    )
