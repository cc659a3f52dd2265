"""Attio's limit/offset paging: keep asking until a page comes back short."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

Item = dict[str, Any]


async def offset_pages(
    fetch: Callable[[int, int], Awaitable[list[Item]]], page_size: int, limit: int | None = None
) -> AsyncIterator[Item]:
    """Every item that `fetch(limit, offset)` returns, page after page, up to `limit` items.

    Attio returns no totals: a page shorter than asked for is the last one."""
    offset = 0
    yielded = 0
    while True:
        page = await fetch(page_size, offset)
        for item in page:
            yield item
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if len(page) < page_size:
            return
        offset += page_size
