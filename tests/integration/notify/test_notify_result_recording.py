"""Mail results finishing together are committed together (one transaction); one that cannot be
written does not hold the others back."""

from __future__ import annotations

import asyncio

from notify_harness import Notify
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def test_a_result_that_cannot_be_written_does_not_hold_the_others(notify: Notify):
    loops = notify.state.loops
    stop = asyncio.Event()
    stop.set()  # as at shutdown: the result that keeps failing is given up after a few tries
    written: list[int] = []

    async def unwritable(conn: AsyncConnection) -> None:
        raise ValueError("this result cannot be written")

    async def fine(conn: AsyncConnection) -> None:
        written.append(await conn.scalar(text("SELECT 1")))

    results = await asyncio.wait_for(
        asyncio.gather(loops._record(unwritable, stop), loops._record(fine, stop), return_exceptions=True), 60
    )
    assert isinstance(results[0], ValueError)
    assert results[1] is None and written[-1] == 1


async def test_results_finishing_together_share_one_commit(notify: Notify):
    loops = notify.state.loops
    seen: list[int] = []

    async def note(conn: AsyncConnection) -> None:
        seen.append(id(conn))

    await asyncio.gather(*(loops._record(note, asyncio.Event()) for _ in range(5)))
    assert len(seen) == 5 and len(set(seen)) == 1
