"""The declarative Salesforce Account -> Attio company mapping (`config/field_mapping.yaml`)."""

from __future__ import annotations

from typing import Any, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Transform = Literal["text", "domain", "select", "integer", "number", "currency", "country"]
OnDeleted = Literal["nothing", "clear", "delete"]
# Who wins a two-way field changed on both sides since they last agreed.
ConflictWinner = Literal["latest", "attio", "salesforce"]
TWO_WAY_TRANSFORMS = {"text", "select", "integer", "number", "currency"}


class FieldRule(BaseModel):
    """One Salesforce field written to one Attio attribute through one transform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, description="Salesforce field API name, e.g. Website.")
    target: str = Field(min_length=1, description="Attio attribute slug, e.g. domains.")
    transform: Transform = "text"
    required: bool = Field(default=False, description="Reject the row when the value is missing.")
    reject_invalid: bool = Field(
        default=False, description="Reject the row (instead of leaving it empty) on a bad value."
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="select: Salesforce picklist value -> Attio option title."
    )
    default: str | None = Field(default=None, description="select: title for unmapped values.")
    two_way: bool = Field(default=False, description="Attio changes flow back to Salesforce.")

    @model_validator(mode="after")
    def _check_transform_settings(self) -> FieldRule:
        if self.transform == "select" and not (self.options or self.default):
            raise ValueError("a select transform needs `options`, a `default`, or both")
        if self.transform != "select" and (self.options or self.default is not None):
            raise ValueError(f"`options` and `default` apply to select only, not {self.transform}")
        if self.two_way and self.transform not in TWO_WAY_TRANSFORMS:
            raise ValueError(f"a {self.transform} field cannot be two-way")
        if self.transform == "domain" and self.target != "domains":
            raise ValueError("the domain transform writes the `domains` attribute")
        return self


class FieldMapping(BaseModel):
    """The whole mapping: which fields, how deleted accounts are handled, what is tolerated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_object: Literal["Account"] = "Account"
    target_object: Literal["companies"] = "companies"
    id_field: str = "Id"
    modified_field: str = "SystemModstamp"
    deleted_field: str = "IsDeleted"
    fields: list[FieldRule] = Field(min_length=1)
    country_aliases: dict[str, str] = Field(
        default_factory=dict, description="Spellings the ISO lookup misses -> ISO 3166 alpha-2."
    )
    on_deleted: OnDeleted = "nothing"
    max_rejected_share: float = Field(default=0.05, ge=0, le=1)
    conflict_winner: ConflictWinner = Field(
        default="latest",
        description="Two-way fields changed on both sides: the later write wins (latest), or "
        "always attio, or always salesforce. Every such conflict is recorded in sync_conflicts.",
    )

    @field_validator("country_aliases")
    @classmethod
    def _aliases_are_iso_codes(cls, aliases: dict[str, str]) -> dict[str, str]:
        for alias, code in aliases.items():
            if pycountry.countries.get(alpha_2=code.upper()) is None:
                raise ValueError(
                    f"{alias!r} maps to {code!r}, which is not an ISO 3166 alpha-2 code"
                )
        return {alias.strip().casefold(): code.upper() for alias, code in aliases.items()}

    @model_validator(mode="after")
    def _check_targets(self) -> FieldMapping:
        targets = [rule.target for rule in self.fields]
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise ValueError(f"attributes written by more than one field: {duplicates}")
        if "domains" not in targets:
            raise ValueError("the mapping must write `domains` (Attio's only unique company key)")
        return self

    @property
    def source_fields(self) -> list[str]:
        """Every Salesforce field to read, bookkeeping fields first, without repeats."""
        wanted = [self.id_field, self.modified_field, self.deleted_field]
        wanted += [rule.source for rule in self.fields]
        return list(dict.fromkeys(wanted))

    @property
    def targets(self) -> list[str]:
        return [rule.target for rule in self.fields]

    def rule_for(self, target: str) -> FieldRule:
        return next(rule for rule in self.fields if rule.target == target)


ATTIO_TYPES = {
    "text": {"text"},
    "domain": {"domain"},
    "select": {"select"},
    "integer": {"number"},
    "number": {"number"},
    "currency": {"currency"},
    "country": {"location"},
}


def mapping_problems(
    mapping: FieldMapping,
    attributes: list[dict[str, Any]],
    options: dict[str, list[dict[str, Any]]],
) -> list[str]:
    """What in the mapping Attio cannot take: unknown attributes, wrong types, missing options.

    `attributes` is the target object's attribute list; `options` maps a select attribute's
    slug to its options."""
    by_slug = {a.get("api_slug"): a for a in attributes}
    problems = []
    for rule in mapping.fields:
        attribute = by_slug.get(rule.target)
        if attribute is None:
            problems.append(
                f"{rule.source} maps to {mapping.target_object}.{rule.target}, which Attio lacks "
                "in Attio (run `revops attio setup`, or fix config/field_mapping.yaml)"
            )
            continue
        if attribute.get("type") not in ATTIO_TYPES[rule.transform]:
            problems.append(
                f"{mapping.target_object}.{rule.target} is a {attribute.get('type')} attribute; "
                f"the {rule.transform} transform cannot write it"
            )
            continue
        if rule.transform == "select":
            have = {
                o.get("title") for o in options.get(rule.target, []) if not o.get("is_archived")
            }
            wanted = set(rule.options.values()) | ({rule.default} if rule.default else set())
            for title in sorted(wanted - have):
                problems.append(f"{mapping.target_object}.{rule.target} has no option {title!r}")
    return problems
