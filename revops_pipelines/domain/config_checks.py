"""Whether the routing and list files fit the Attio workspace, checked before a lead is written
(the mapping file has `field_mapping.mapping_problems`). Pure: the workspace's members and lists
are passed in, from the schema cache."""

from __future__ import annotations

from typing import Any

from revops_pipelines.domain.lead_lists import ListMapping
from revops_pipelines.domain.routing_config import RoutingConfig


def routing_problems(config: RoutingConfig, members: list[dict[str, Any]]) -> list[str]:
    """Reps in routing.yaml that are not active members of the workspace."""
    by_email = {(m.get("email_address") or "").lower(): m for m in members}
    problems = []
    for rep in config.reps:
        member = by_email.get(rep.email)
        if member is None:
            problems.append(f"routing.yaml: rep {rep.email} is not a member of the Attio workspace")
        elif member.get("access_level") == "suspended":
            problems.append(f"routing.yaml: rep {rep.email} is suspended in Attio")
    return problems


def list_problems(lists: ListMapping, attio_lists: list[dict[str, Any]]) -> list[str]:
    """Lists lists.yaml names that the workspace lacks."""
    have = {item.get("api_slug") for item in attio_lists}
    return [
        f"lists.yaml: list {slug!r} does not exist in Attio (run `revops attio setup`)"
        for slug in sorted(lists.slugs - have)
    ]
