"""The form-to-list mapping (`config/lists.yaml`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ListMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str = Field(min_length=1, description="Attio list slug for any form not named below.")
    by_source: dict[str, str] = Field(default_factory=dict, description="Form tool -> list slug.")
    by_form: dict[str, str] = Field(default_factory=dict, description="Form id -> list slug.")

    def list_for(self, source: str, source_form: str) -> str:
        """The list for a lead: its form id (the part before any " (title)"), its tool, else the
        default."""
        form_id = source_form.split(" (", 1)[0]
        return self.by_form.get(form_id) or self.by_source.get(source) or self.default

    @property
    def slugs(self) -> set[str]:
        return {self.default, *self.by_source.values(), *self.by_form.values()}
