"""List entries, notes (and comment threads) and tasks: the effects that have no unique key of
their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from revops_pipelines.infra.send_once import send_once
from revops_pipelines.resources.attio.paging import offset_pages
from revops_pipelines.resources.attio.transport import AttioTransport

Entry = dict[str, Any]
Note = dict[str, Any]
Task = dict[str, Any]

NOTES_PAGE_MAX = 50  # Attio caps GET /v2/notes at 50 per page.


class ListsAPI:
    def __init__(self, transport: AttioTransport) -> None:
        self._t = transport

    async def assert_entry(
        self,
        list_: str,
        *,
        parent_object: str,
        parent_record_id: str,
        entry_values: dict[str, Any] | None = None,
    ) -> Entry:
        """Put the record on the list once (idempotent: updates the parent's entry if present)."""
        return await self._write_entry("PUT", list_, parent_object, parent_record_id, entry_values)

    async def add_entry(
        self,
        list_: str,
        *,
        parent_object: str,
        parent_record_id: str,
        entry_values: dict[str, Any] | None = None,
    ) -> Entry:
        """Add a new entry (Attio allows several per parent; prefer `assert_entry` for "once").
        After an ambiguous failure the list is searched for an entry of this parent first."""

        async def send() -> Entry:
            return await self._write_entry(
                "POST", list_, parent_object, parent_record_id, entry_values
            )

        async def look() -> Entry | None:
            async for entry in self.query_entries(list_):
                if entry.get("parent_record_id") == parent_record_id:
                    return entry
            return None

        return await send_once(send, look, what=f"entry on {list_}")

    async def _write_entry(
        self,
        method: str,
        list_: str,
        parent_object: str,
        parent_record_id: str,
        entry_values: dict[str, Any] | None,
    ) -> Entry:
        """PUT asserts by parent (idempotent); POST adds another entry (not idempotent)."""
        return await self._t.write_data(
            method,
            f"lists/{quote(list_, safe='')}/entries",
            {
                "parent_record_id": parent_record_id,
                "parent_object": parent_object,
                "entry_values": entry_values or {},
            },
            idempotent=method == "PUT",
        )

    def query_entries(
        self, list_: str, *, filter: dict[str, Any] | None = None, page_size: int = 500
    ) -> AsyncIterator[Entry]:
        async def fetch(size: int, offset: int) -> list[Entry]:
            body: dict[str, Any] = {"limit": size, "offset": offset}
            if filter is not None:
                body["filter"] = filter
            page = await self._t.request(
                "POST",
                f"lists/{quote(list_, safe='')}/entries/query",
                json=body,
                kind="read",
                idempotent=True,
            )
            return page["data"]

        return offset_pages(fetch, page_size)

    async def get_entry(self, list_: str, entry_id: str) -> Entry:
        """One entry as it is now (404 `AttioError` when it was deleted)."""
        body = await self._t.request(
            "GET",
            f"lists/{quote(list_, safe='')}/entries/{quote(entry_id, safe='')}",
            kind="read",
            idempotent=True,
        )
        return body["data"]

    async def delete_entry(self, list_: str, entry_id: str) -> bool:
        return await self._t.delete(f"lists/{quote(list_, safe='')}/entries/{entry_id}")


class NotesAPI:
    def __init__(self, transport: AttioTransport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        parent_object: str,
        parent_record_id: str,
        title: str,
        content: str,
        format: str = "markdown",
    ) -> Note:
        """Create a note once. Notes cannot be updated, and the title identifies the note when
        an ambiguous failure has to be resolved: give each effect a title of its own."""

        async def send() -> Note:
            data = {
                "parent_object": parent_object,
                "parent_record_id": parent_record_id,
                "title": title,
                "format": format,
                "content": content,
            }
            return await self._t.write_data("POST", "notes", data, idempotent=False)

        async def look() -> Note | None:
            async for note in self.list(
                parent_object=parent_object, parent_record_id=parent_record_id
            ):
                if note.get("title") == title:
                    return note
            return None

        return await send_once(send, look, what=f"note {title!r}")

    async def get(self, note_id: str) -> Note:
        """One note (404 `AttioError` when it was deleted)."""
        body = await self._t.request(
            "GET", f"notes/{quote(note_id, safe='')}", kind="read", idempotent=True
        )
        return body["data"]

    async def thread(self, thread_id: str) -> dict[str, Any]:
        """A comment thread and its comments (`GET /v2/threads/{id}`; 404 when deleted)."""
        body = await self._t.request(
            "GET", f"threads/{quote(thread_id, safe='')}", kind="read", idempotent=True
        )
        return body["data"]

    def list(self, *, parent_object: str, parent_record_id: str) -> AsyncIterator[Note]:
        async def fetch(size: int, offset: int) -> list[Note]:
            params = {
                "parent_object": parent_object,
                "parent_record_id": parent_record_id,
                "limit": size,
                "offset": offset,
            }
            page = await self._t.request(
                "GET", "notes", params=params, kind="read", idempotent=True
            )
            return page["data"]

        return offset_pages(fetch, NOTES_PAGE_MAX)


class TasksAPI:
    def __init__(self, transport: AttioTransport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        content: str,
        deadline_at: str | None,
        linked_records: list[dict[str, Any]],
        assignees: list[dict[str, Any]],
        is_completed: bool = False,
    ) -> Task:
        """Create a task once (all six keys are sent, as Attio requires). After an ambiguous
        failure the tasks linked to the first linked record are searched for the same content."""

        async def send() -> Task:
            data = {
                "content": content,
                "format": "plaintext",
                "deadline_at": deadline_at,
                "is_completed": is_completed,
                "linked_records": linked_records,
                "assignees": assignees,
            }
            return await self._t.write_data("POST", "tasks", data, idempotent=False)

        async def look() -> Task | None:
            first = linked_records[0]
            async for task in self.list(
                linked_object=first["target_object"], linked_record_id=first["target_record_id"]
            ):
                if task.get("content_plaintext") == content:
                    return task
            return None

        can_look = bool(linked_records) and "target_record_id" in linked_records[0]
        return await send_once(send, look if can_look else None, what="task")

    def list(
        self,
        *,
        linked_object: str | None = None,
        linked_record_id: str | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[Task]:
        async def fetch(size: int, offset: int) -> list[Task]:
            params: dict[str, Any] = {"limit": size, "offset": offset}
            if linked_object and linked_record_id:
                params |= {"linked_object": linked_object, "linked_record_id": linked_record_id}
            page = await self._t.request(
                "GET", "tasks", params=params, kind="read", idempotent=True
            )
            return page["data"]

        return offset_pages(fetch, page_size)

    async def get(self, task_id: str) -> Task:
        """One task as it is now (404 `AttioError` when it was deleted)."""
        body = await self._t.request(
            "GET", f"tasks/{quote(task_id, safe='')}", kind="read", idempotent=True
        )
        return body["data"]

    async def delete(self, task_id: str) -> bool:
        return await self._t.delete(f"tasks/{task_id}")
