"""Read the workspace's schema and apply a `SchemaPlan` (for `revops attio setup`)."""

from __future__ import annotations

from typing import Any

from revops_pipelines.domain.attio_schema import EXPECTED_ATTRIBUTES, SchemaPlan, plan_schema
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioError


async def plan_workspace_schema(client: AttioClient) -> SchemaPlan:
    """Compare the workspace with the expected schema."""
    objects = {o["api_slug"] for o in await client.workspace.objects()}
    attributes: dict[str, list[dict[str, Any]] | None] = {}
    for object_ in sorted({spec.object for spec in EXPECTED_ATTRIBUTES}):
        attributes[object_] = (
            await client.workspace.attributes("objects", object_) if object_ in objects else None
        )
    options: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for spec in EXPECTED_ATTRIBUTES:
        present = any(a.get("api_slug") == spec.api_slug for a in attributes.get(spec.object) or [])
        if spec.options and present:
            options[(spec.object, spec.api_slug)] = await client.workspace.select_options(
                "objects", spec.object, spec.api_slug
            )
    return plan_schema(attributes, options, await client.workspace.lists())


async def apply_schema_plan(client: AttioClient, plan: SchemaPlan) -> list[str]:
    """Create what the plan lists; returns what was done. Safe to run again."""
    done: list[str] = []
    for spec in plan.create_attributes:
        await client.workspace.create_attribute("objects", spec.object, spec.create_body())
        done.append(f"created attribute {spec.object}.{spec.api_slug}")
    for spec, title in plan.create_options:
        await client.workspace.create_select_option("objects", spec.object, spec.api_slug, title)
        done.append(f"created option {spec.object}.{spec.api_slug} = {title!r}")
    for list_spec in plan.create_lists:
        try:
            await client.workspace.create_list(list_spec.create_body())
        except AttioError as exc:
            raise AttioError(
                method=exc.method,
                path=exc.path,
                status_code=exc.status_code,
                type=exc.type,
                code=exc.code,
                message=f"creating list {list_spec.api_slug!r}: {exc.message}",
                validation_errors=exc.validation_errors,
            ) from exc
        done.append(f"created list {list_spec.api_slug}")
    return done
