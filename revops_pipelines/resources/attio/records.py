"""Records: assert (upsert), create, get, update, delete, and paged queries.

`get` reads through the credential's record cache (`cache.py`) when there is one; every write
through this client puts Attio's answer in it, a delete evicts it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from revops_pipelines.infra.cache import Cache
from revops_pipelines.infra.send_once import send_once
from revops_pipelines.resources.attio.errors import AttioError
from revops_pipelines.resources.attio.paging import offset_pages
from revops_pipelines.resources.attio.transport import AttioTransport

Record = dict[str, Any]


def _object_path(object_: str) -> str:
    return f"objects/{quote(object_, safe='')}/records"


class RecordsAPI:
    def __init__(self, transport: AttioTransport, cache: Cache | None = None) -> None:
        self._t = transport
        self.cache = cache or Cache.off("record")

    def _remember(self, record: Record) -> Record:
        record_id = (record.get("id") or {}).get("record_id")
        if record_id:
            self.cache.put(str(record_id), record)
        return record

    def evict(self, record_ids: list[str]) -> int:
        """Forget these records (Attio says they changed); how many were cached."""
        return self.cache.evict(record_ids)

    async def assert_record(
        self, object_: str, *, matching_attribute: str, values: dict[str, Any]
    ) -> Record:
        """Create or update the record whose unique `matching_attribute` matches (idempotent).

        Attio appends to the matching multiselect and overwrites every other multiselect.
        """
        return self._remember(
            await self._t.write_data(
                "PUT",
                _object_path(object_),
                {"values": values},
                params={"matching_attribute": matching_attribute},
                idempotent=True,
            )
        )

    async def create(
        self, object_: str, values: dict[str, Any], *, identity: dict[str, Any] | None = None
    ) -> Record:
        """Create a record. `identity` is a filter that finds this very record (for example
        `{"salesforce_id": "001..."}`): after an ambiguous failure the client queries it before
        creating again, so a dropped answer never leaves a duplicate. Without it an ambiguous
        failure is raised to the caller."""

        async def send() -> Record:
            return await self._t.write_data(
                "POST", _object_path(object_), {"values": values}, idempotent=False
            )

        async def look() -> Record | None:
            assert identity is not None
            found = [r async for r in self.query(object_, filter=identity, page_size=2, limit=2)]
            if len(found) > 1:
                raise AttioError(
                    method="POST",
                    path=_object_path(object_),
                    status_code=None,
                    type="client_error",
                    code="identity_not_unique",
                    message=f"the identity filter {identity!r} matches more than one record",
                )
            return found[0] if found else None

        record = await send_once(send, look if identity else None, what=f"create {object_}")
        return self._remember(record)

    async def get(self, object_: str, record_id: str) -> Record:
        cached = self.cache.get(record_id)
        if cached is not None:
            return cached
        body = await self._t.request(
            "GET", f"{_object_path(object_)}/{record_id}", kind="read", idempotent=True
        )
        return self._remember(body["data"])

    async def update(
        self, object_: str, record_id: str, values: dict[str, Any], *, overwrite: bool = False
    ) -> Record:
        """PATCH (prepends to multiselects) or, with `overwrite`, PUT (replaces them)."""
        return self._remember(
            await self._t.write_data(
                "PUT" if overwrite else "PATCH",
                f"{_object_path(object_)}/{record_id}",
                {"values": values},
                idempotent=True,
            )
        )

    async def delete(self, object_: str, record_id: str) -> bool:
        """Delete a record; False when it was already gone."""
        self.cache.evict([record_id])
        return await self._t.delete(f"{_object_path(object_)}/{record_id}")

    def query(
        self,
        object_: str,
        *,
        filter: dict[str, Any] | None = None,
        sorts: list[dict[str, Any]] | None = None,
        page_size: int = 500,
        limit: int | None = None,
    ) -> AsyncIterator[Record]:
        """Every matching record, page by page."""

        async def fetch(size: int, offset: int) -> list[Record]:
            body: dict[str, Any] = {"limit": size, "offset": offset}
            if filter is not None:
                body["filter"] = filter
            if sorts is not None:
                body["sorts"] = sorts
            page = await self._t.request(
                "POST", f"{_object_path(object_)}/query", json=body, kind="read", idempotent=True
            )
            return page["data"]

        return offset_pages(fetch, page_size, limit)

    async def query_all(self, object_: str, **kwargs: Any) -> list[Record]:
        return [record async for record in self.query(object_, **kwargs)]
