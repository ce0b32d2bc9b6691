"""Stopping loops in bounded time, even when a cancellation gets swallowed.

A loop that catches ``CancelledError`` to tell a peer's cancellation from its own, or
awaits ``asyncio.wait_for`` on Python 3.11 (which returns the inner result when the
cancel lands just as the inner future completes, bpo-42130), can lose one cancel
request and keep running.  ``await task`` after ``task.cancel()`` then waits forever,
and a collector that hangs on stop loses its last commit to systemd's SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)


def raise_if_cancelling() -> None:
    """Re-raise a cancellation of the current task that something below swallowed.

    The request stays counted in ``Task.cancelling()`` even when no CancelledError
    reached the loop; a loop calls this once per turn so a cancel always ends it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object]], timeout_s: float, what: str
) -> set[asyncio.Task[object]]:
    """Cancel ``tasks`` and wait for them, re-cancelling every 0.5 s, for ``timeout_s``.

    Returns the tasks still running after that (logged; normally none).  Exceptions of
    tasks that ended are retrieved here so none is reported "never retrieved" at exit.
    """
    tasks = list(tasks)
    deadline = time.monotonic() + timeout_s
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _done, pending = await asyncio.wait(pending, timeout=min(left, 0.5))
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()
    if pending:
        log.warning(
            "%s: %d task(s) did not stop within %.0fs: %s",
            what,
            len(pending),
            timeout_s,
            ", ".join(sorted(t.get_name() for t in pending)),
        )
    return pending
