"""Send a non-idempotent write once: after an ambiguous failure, look at the target first."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from revops_pipelines.infra.errors import ApiError

log = logging.getLogger("revops.attio")
T = TypeVar("T")


async def send_once(
    send: Callable[[], Awaitable[T]],
    look: Callable[[], Awaitable[T | None]] | None,
    *,
    what: str,
    max_resends: int = 2,
) -> T:
    """Call `send`; if the outcome is ambiguous, return what `look` finds, else send again.

    Without `look` the ambiguity goes to the caller unchanged, since only it knows how to tell.
    """
    for resend in range(max_resends + 1):
        try:
            return await send()
        except ApiError as exc:
            if not exc.ambiguous or look is None or resend == max_resends:
                raise
            found = await look()
            if found is not None:
                log.info("%s: the ambiguous write had been applied; using it (%s)", what, exc.code)
                return found
            log.info("%s: the ambiguous write was not applied; sending again (%s)", what, exc.code)
    raise AssertionError("unreachable")
