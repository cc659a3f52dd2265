"""Two-way fields: decide, per field, which side's value stands after a change in Attio.

Three values decide it: the value both sides last agreed on (the baseline, kept in the store
whenever the sync or a write-back leaves them equal), Attio's current value (with when and by
whom it was set) and Salesforce's current value (mapped into Attio's form, so "Software" and
"Technology" are the same Attio option). A side whose value still equals the baseline has not
changed. Only Attio changed: the value goes to Salesforce. Both changed to different values: a
conflict, settled by the configured winner (by default the later write). Attio unchanged: nothing
to do, which is how our own writes echoing back as webhooks end, with no ping-pong.
Pure functions: no I/O, no Dagster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from revops_pipelines.domain.attio_values import active_values
from revops_pipelines.domain.company_drift import read_attribute
from revops_pipelines.domain.field_mapping import ConflictWinner, FieldMapping, FieldRule

if TYPE_CHECKING:
    pass

Side = Literal["attio", "salesforce"]
Action = Literal["none", "to_salesforce", "to_attio"]


def two_way_rules(mapping: FieldMapping) -> list[FieldRule]:
    return [rule for rule in mapping.fields if rule.two_way]


def _plain(value: Any, rule: FieldRule) -> Any:
    """A value in the JSON-able form both sides are compared in (None when missing)."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if rule.transform == "integer":
        return int(value)
    if rule.transform in ("number", "currency"):
        return float(value)
    return str(value)


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) <= 1e-6
    return a == b


def baseline_values(row: Mapping[str, Any], mapping: FieldMapping) -> dict[str, Any]:
    """The two-way fields of one mapped Salesforce row, as the baseline to store."""
    return {rule.target: _plain(row.get(rule.target), rule) for rule in two_way_rules(mapping)}


def keep_attio_edits(
    values: dict[str, Any],
    mapped: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    mapping: FieldMapping,
) -> dict[str, Any]:
    """The Attio write of a Salesforce -> Attio sync, less the two-way attributes Salesforce has
    not changed since the baseline: Attio may hold a newer edit of them that the write-back has
    yet to carry to Salesforce, and the sync must not overwrite it. Without a baseline (never
    agreed yet) everything is written."""
    if not baseline:
        return values
    settled = {
        rule.target
        for rule in two_way_rules(mapping)
        if rule.target in baseline
        and same_value(_plain(mapped.get(rule.target), rule), baseline[rule.target])
    }
    return {k: v for k, v in values.items() if k not in settled}


@dataclass(frozen=True)
class AttioValue:
    value: Any
    changed_at: datetime | None  # the current value's `active_from`
    actor_type: str | None  # who set it: workspace-member, api-token, system, app


def attio_side(record: Mapping[str, Any], mapping: FieldMapping) -> dict[str, AttioValue]:
    """The two-way attributes of an Attio company as they are now."""
    import pandas as pd

    out: dict[str, AttioValue] = {}
    for rule in two_way_rules(mapping):
        current = active_values(dict(record), rule.target)
        changed_at = actor = None
        if current:
            stamp = current[0].get("active_from")
            changed_at = pd.Timestamp(stamp).to_pydatetime() if stamp else None
            actor = (current[0].get("created_by_actor") or {}).get("type")
        value = _plain(read_attribute(dict(record), rule.target, rule.transform), rule)
        out[rule.target] = AttioValue(value, changed_at, actor)
    return out


def salesforce_value(rule: FieldRule, value: Any) -> Any:
    """An Attio-form value as the Salesforce field takes it (None clears the field).

    A select option maps back to the picklist value spelled like the option if the mapping has
    one, else to the first picklist value that maps to it, else to the option title itself.
    """
    if value is None:
        return None
    if rule.transform != "select":
        return _plain(value, rule)
    title = str(value)
    spelled_alike = [k for k in rule.options if k.strip().casefold() == title.casefold()]
    if spelled_alike:
        return spelled_alike[0]
    return next((k for k, t in rule.options.items() if t == title), title)


@dataclass(frozen=True)
class FieldDecision:
    """What happens to one two-way field after an Attio change, and why."""

    target: str
    source: str
    base: Any
    attio: Any
    salesforce: Any
    attio_changed_at: datetime | None
    salesforce_changed_at: datetime | None
    action: Action
    conflict: bool
    winner: Side | None
    reason: str

    @property
    def agreed(self) -> Any:
        """The value both sides hold once the decision is carried out."""
        return self.salesforce if self.action == "to_attio" else self.attio


def latest_side(attio_at: datetime | None, salesforce_at: datetime | None) -> Side:
    """The side written last; a missing time loses, and a tie goes to Salesforce, the system of
    record."""
    if attio_at is None:
        return "salesforce"
    if salesforce_at is None:
        return "attio"
    return "attio" if attio_at > salesforce_at else "salesforce"


def decide_field(
    rule: FieldRule,
    *,
    baseline: Mapping[str, Any] | None,
    attio: AttioValue,
    salesforce: Any,
    salesforce_changed_at: datetime | None,
    winner: ConflictWinner,
) -> FieldDecision:
    base_known = baseline is not None and rule.target in baseline
    base = baseline.get(rule.target) if baseline is not None else None

    def decision(
        action: Action, reason: str, conflict: bool = False, side: Side | None = None
    ) -> FieldDecision:
        return FieldDecision(
            rule.target,
            rule.source,
            base,
            attio.value,
            salesforce,
            attio.changed_at,
            salesforce_changed_at,
            action,
            conflict,
            side,
            reason,
        )

    if same_value(attio.value, salesforce):
        return decision("none", "both sides agree")
    if base_known and same_value(attio.value, base):
        return decision("none", "unchanged in Attio; the sync carries Salesforce's change")
    if base_known and same_value(salesforce, base):
        return decision("to_salesforce", "changed in Attio", side="attio")
    if not base_known:
        # Never agreed on: nothing says which side moved, so the later write wins.
        side = latest_side(attio.changed_at, salesforce_changed_at)
        action: Action = "to_salesforce" if side == "attio" else "to_attio"
        return decision(action, f"no agreed value yet; {side} wrote last", side=side)
    side = latest_side(attio.changed_at, salesforce_changed_at) if winner == "latest" else winner
    action = "to_salesforce" if side == "attio" else "to_attio"
    how = "wrote last" if winner == "latest" else "is the configured winner"
    return decision(action, f"changed on both sides; {side} {how}", conflict=True, side=side)


def decide_fields(
    mapping: FieldMapping,
    *,
    baseline: Mapping[str, Any] | None,
    attio: Mapping[str, AttioValue],
    salesforce: Mapping[str, Any],
    salesforce_changed_at: datetime | None,
) -> list[FieldDecision]:
    """One decision per two-way field (`salesforce` holds Salesforce's values in Attio's form)."""
    return [
        decide_field(
            rule,
            baseline=baseline,
            attio=attio[rule.target],
            salesforce=salesforce.get(rule.target),
            salesforce_changed_at=salesforce_changed_at,
            winner=mapping.conflict_winner,
        )
        for rule in two_way_rules(mapping)
    ]
