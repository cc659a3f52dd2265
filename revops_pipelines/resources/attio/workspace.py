"""Workspace members and schema discovery: objects, attributes, select options, lists."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.attio.paging import offset_pages
from revops_pipelines.resources.attio.transport import AttioTransport

Target = Literal["objects", "lists"]
PAGE = 100


class WorkspaceAPI:
    def __init__(self, transport: AttioTransport) -> None:
        self._t = transport

    async def members(self) -> list[dict[str, Any]]:
        """All workspace members (Attio does not page this endpoint)."""
        body = await self._t.request("GET", "workspace_members", kind="read", idempotent=True)
        return body["data"]

    async def objects(self) -> list[dict[str, Any]]:
        body = await self._t.request("GET", "objects", kind="read", idempotent=True)
        return body["data"]

    async def lists(self) -> list[dict[str, Any]]:
        body = await self._t.request("GET", "lists", kind="read", idempotent=True)
        return body["data"]

    async def attributes(self, target: Target, identifier: str) -> list[dict[str, Any]]:
        async def fetch(size: int, offset: int) -> list[dict[str, Any]]:
            page = await self._t.request(
                "GET",
                f"{target}/{quote(identifier, safe='')}/attributes",
                params={"limit": size, "offset": offset},
                kind="read",
                idempotent=True,
            )
            return page["data"]

        return [attribute async for attribute in offset_pages(fetch, PAGE)]

    async def select_options(
        self, target: Target, identifier: str, attribute: str
    ) -> list[dict[str, Any]]:
        body = await self._t.request(
            "GET",
            f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}/options",
            kind="read",
            idempotent=True,
        )
        return body["data"]

    async def create_attribute(
        self, target: Target, identifier: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        """Create an attribute; an existing slug (409 `slug_conflict`) returns the existing one,
        which also makes a retried create after a dropped answer harmless."""
        try:
            body = await self._t.request(
                "POST",
                f"{target}/{quote(identifier, safe='')}/attributes",
                json={"data": spec},
                kind="write",
                idempotent=False,
            )
            return body["data"]
        except AttioError as exc:
            if exc.code != "slug_conflict" and not exc.ambiguous:
                raise
            for attribute in await self.attributes(target, identifier):
                if attribute.get("api_slug") == spec.get("api_slug"):
                    return attribute
            raise

    async def create_select_option(
        self, target: Target, identifier: str, attribute: str, title: str
    ) -> dict[str, Any]:
        path = (
            f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}/options"
        )
        try:
            body = await self._t.request(
                "POST", path, json={"data": {"title": title}}, kind="write", idempotent=False
            )
            return body["data"]
        except AttioError as exc:
            if exc.status_code not in (400, 409, None) and not exc.ambiguous:
                raise
            for option in await self.select_options(target, identifier, attribute):
                if option.get("title") == title:
                    return option
            raise

    async def create_list(self, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            body = await self._t.request(
                "POST", "lists", json={"data": spec}, kind="write", idempotent=False
            )
            return body["data"]
        except AttioError as exc:
            if exc.code != "slug_conflict" and not exc.ambiguous:
                raise
            for list_ in await self.lists():
                if list_.get("api_slug") == spec.get("api_slug"):
                    return list_
            raise
