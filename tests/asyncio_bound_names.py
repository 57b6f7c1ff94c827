"""Binds asyncio's running-loop functions at import, as anyio and many asyncio libraries do."""

from __future__ import annotations

from asyncio import current_task, get_running_loop, sleep


async def whose_loop() -> int:
    """Which loop runs this coroutine (its id), read through the names bound above."""
    await sleep(0)
    assert current_task() is not None
    return id(get_running_loop())
