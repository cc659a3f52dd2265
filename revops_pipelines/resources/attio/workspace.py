"""Workspace members and schema discovery: objects, attributes, select options, lists.

Reads go through the credential's schema cache (`cache.py`); creations clear it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import quote

from revops_pipelines.infra.cache import Cache
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.attio.paging import offset_pages
from revops_pipelines.resources.attio.transport import AttioTransport

Target = Literal["objects", "lists"]
PAGE = 100


class WorkspaceAPI:
    def __init__(self, transport: AttioTransport, cache: Cache | None = None) -> None:
        self._t = transport
        self.cache = cache or Cache.off("schema")

    async def _cached(
        self, key: tuple[str, ...], fetch: Callable[[], Awaitable[list[dict[str, Any]]]]
    ) -> list[dict[str, Any]]:
        found = self.cache.get(key)
        if found is None:
            found = await fetch()
            self.cache.put(key, found)
        return [dict(item) for item in found]

    async def _get(self, path: str) -> list[dict[str, Any]]:
        body = await self._t.request("GET", path, kind="read", idempotent=True)
        return body["data"]

    async def members(self) -> list[dict[str, Any]]:
        """All workspace members (Attio does not page this endpoint)."""
        return await self._cached(("members",), lambda: self._get("workspace_members"))

    async def objects(self) -> list[dict[str, Any]]:
        return await self._cached(("objects",), lambda: self._get("objects"))

    async def lists(self) -> list[dict[str, Any]]:
        return await self._cached(("lists",), lambda: self._get("lists"))

    async def attributes(self, target: Target, identifier: str) -> list[dict[str, Any]]:
        return await self._cached(
            ("attributes", target, identifier), lambda: self._attributes(target, identifier)
        )

    async def _attributes(self, target: Target, identifier: str) -> list[dict[str, Any]]:
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
        path = f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}"
        return await self._cached(
            ("options", target, identifier, attribute), lambda: self._get(f"{path}/options")
        )

    async def statuses(
        self, target: Target, identifier: str, attribute: str
    ) -> list[dict[str, Any]]:
        """The statuses of a status attribute (e.g. the deal `stage`), archived ones left out."""
        path = f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}"
        return await self._cached(
            ("statuses", target, identifier, attribute), lambda: self._get(f"{path}/statuses")
        )

    async def _create_or_find(
        self,
        path: str,
        data: dict[str, Any],
        existing: Callable[[], Awaitable[list[dict[str, Any]]]],
        same: Callable[[dict[str, Any]], bool],
        taken: Callable[[AttioError], bool],
    ) -> dict[str, Any]:
        """Create; when Attio says it exists already, or the answer was lost, return the one
        that is there (so set-up can run again, and a retried create is harmless)."""
        self.cache.clear()  # the schema changes either way, and `existing` must read it afresh
        try:
            return await self._t.write_data("POST", path, data, idempotent=False)
        except AttioError as exc:
            if not (taken(exc) or exc.ambiguous):
                raise
            for item in await existing():
                if same(item):
                    return item
            raise

    async def create_attribute(
        self, target: Target, identifier: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._create_or_find(
            f"{target}/{quote(identifier, safe='')}/attributes",
            spec,
            lambda: self.attributes(target, identifier),
            lambda item: item.get("api_slug") == spec.get("api_slug"),
            lambda exc: exc.code == "slug_conflict",
        )

    async def create_select_option(
        self, target: Target, identifier: str, attribute: str, title: str
    ) -> dict[str, Any]:
        return await self._create_or_find(
            f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}/options",
            {"title": title},
            lambda: self.select_options(target, identifier, attribute),
            lambda item: item.get("title") == title,
            # Attio's code for a duplicate option title is not documented (UNCONFIRMED):
            # any 400/409 is checked against what exists before it is raised.
            lambda exc: exc.status_code in (400, 409),
        )

    async def create_status(
        self, target: Target, identifier: str, attribute: str, title: str
    ) -> dict[str, Any]:
        return await self._create_or_find(
            f"{target}/{quote(identifier, safe='')}/attributes/{quote(attribute, safe='')}"
            "/statuses",
            {"title": title},
            lambda: self.statuses(target, identifier, attribute),
            lambda item: item.get("title") == title,
            lambda exc: exc.status_code in (400, 409),  # duplicate title code: UNCONFIRMED
        )

    async def create_list(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._create_or_find(
            "lists",
            spec,
            self.lists,
            lambda item: item.get("api_slug") == spec.get("api_slug"),
            lambda exc: exc.code == "slug_conflict",
        )
