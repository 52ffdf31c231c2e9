"""Polling for asynchronous effects in integration and e2e tests.

A bound against hangs, never a timing assertion: the timeout only decides when to give up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, what: str = "", timeout: float = 60, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy and return that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what or probe}")
        await asyncio.sleep(interval)
