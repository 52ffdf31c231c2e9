"""What the HTTP routes share, built once in the app's lifespan (nothing at import time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from touchline.shared.clock import Clock
from touchline.shared.settings import CommonSettings

from .compose import Composer
from .delivery import Loops
from .settings import NotifySettings
from .streams import StreamHub
from .task_handlers import TaskDeps


@dataclass
class NotifyState:
    common: CommonSettings
    settings: NotifySettings
    engine: AsyncEngine
    clock: Clock
    composer: Composer
    tasks: TaskDeps
    loops: Loops
    stopping: Callable[[], bool]
    hub: StreamHub  # the open in-app streams of this process, fed by its one watcher

    def now(self) -> datetime:
        return self.clock.now()

    async def write(
        self, work: Callable[[AsyncConnection], Awaitable[Any]], *, wake: tuple[str, ...] = ("outcomes",)
    ) -> Any:
        """One transaction for one request; loops are woken once it is committed."""
        async with self.engine.begin() as conn:
            result = await work(conn)
        self.loops.poke(*wake)
        return result


def get_state(request: Request) -> NotifyState:
    state: NotifyState | None = getattr(request.app.state, "notify", None)
    if state is None:
        raise HTTPException(503, "starting")
    return state


StateDep = Annotated[NotifyState, Depends(get_state)]
