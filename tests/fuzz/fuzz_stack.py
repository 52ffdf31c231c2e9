"""Every service of Touchline in one background thread, served over real HTTP, for schemathesis.

Schemathesis drives its examples synchronously (hypothesis), so the services cannot share the
test session's event loop: it only turns while an async test runs. They get a loop of their own
in a thread, and a database and topic prefix of their own (``isolated``) on the session's Kafka
and Postgres, so their consumers never join the groups of the other tests' services.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.main import build_app as console_app
from touchline.console.settings import ConsoleSettings
from touchline.health.main import build_app as health_app
from touchline.health.settings import HealthSettings
from touchline.ingest.main import build_app as ingest_app
from touchline.ingest.settings import IngestSettings
from touchline.notify.main import build_app as notify_app
from touchline.notify.settings import NotifySettings
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated
from touchline.touch.main import build_app as touch_app
from touchline.touch.settings import TouchSettings

WRITE_KEY = "fuzz-ingest-write-key"
INAPP_SECRET = "fuzz-inapp-secret"
CSM_EMAIL, CSM_PASSWORD = "csm-fuzz@us.test", "fuzzing is fun"
SERVICES = ("ingest", "health", "touch", "notify", "console")


@dataclass
class Stack:
    """Base URL of each running service, and the common settings they share."""

    common: CommonSettings
    urls: dict[str, str] = field(default_factory=dict)


async def _serve(app: FastAPI, stack: contextlib.AsyncExitStack) -> str:
    await stack.enter_async_context(app.router.lifespan_context(app))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)
    for _ in range(400):
        if server.started:
            return f"http://127.0.0.1:{port}"
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    raise RuntimeError("fuzz server never started")


async def _until(predicate: Callable[[], Any], what: str) -> None:
    for _ in range(800):
        if predicate():
            return
        await asyncio.sleep(0.025)
    raise RuntimeError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def _running(bootstrap_servers: str, database_url: str) -> AsyncIterator[Stack]:
    database, prefix = await isolated(bootstrap_servers, database_url, tag="fz")
    common = CommonSettings(
        env="test",
        kafka_bootstrap_servers=bootstrap_servers,
        database_url=database,
        topic_prefix=prefix,
        clock="simulated",
    )
    sink = MailSink().start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            found = Stack(common)
            ingest = ingest_app(common, IngestSettings(write_keys=SecretStr(f"product:{WRITE_KEY}")))
            found.urls["ingest"] = await _serve(ingest, stack)
            holder = ingest.state.holder
            await _until(lambda: holder["connection"].producer is not None, "ingest connected to Kafka")
            found.urls["health"] = await _serve(health_app(common, HealthSettings()), stack)
            found.urls["touch"] = await _serve(touch_app(common, TouchSettings()), stack)
            notify = NotifySettings(
                smtp_port=sink.port, public_url="http://notify.test", inapp_secret=SecretStr(INAPP_SECRET)
            )
            found.urls["notify"] = await _serve(notify_app(common, notify), stack)
            users = UserStore({})
            users.put(User(email=CSM_EMAIL, name="Fuzz CSM", password_hash=hash_password(CSM_PASSWORD), locale="en"))
            console = ConsoleSettings(
                health_url=found.urls["health"], touch_url=found.urls["touch"], notify_url=found.urls["notify"]
            )
            found.urls["console"] = await _serve(console_app(common, console, users=users), stack)
            yield found
    finally:
        sink.stop()
        with contextlib.suppress(Exception):
            await discard(database_url=database, bootstrap_servers=bootstrap_servers, topic_prefix=prefix)


class FuzzStack:
    """Starts the services in a thread of their own; ``stop`` ends them and drops their state."""

    def __init__(self, bootstrap_servers: str, database_url: str) -> None:
        self._args = (bootstrap_servers, database_url)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.stack: Stack | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-stack", daemon=True)

    def start(self, timeout: float = 180.0) -> Stack:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the fuzz stack did not start in time")
        if self._error is not None or self.stack is None:
            raise RuntimeError("the fuzz stack failed to start") from self._error
        return self.stack

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with _running(*self._args) as stack:
            self.stack = stack
            self._ready.set()
            await self._stop.wait()
