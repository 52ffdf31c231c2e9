"""notify in-app streams: database load and delivery latency with many connected streams.

Run: .venv/bin/python bench/notify_inapp_stream.py [--streams 1000] [--messages 40] [--idle 10]

Three phases on one database and Kafka, each a fresh notify app with the production poll_seconds (0.5):
- before (baseline): every stream polls Postgres itself (the code notify had until this bench was
  written, copied below: one eligibility transaction per stream per poll);
- after: one watcher per process, woken by LISTEN/NOTIFY (the default);
- after, listen off (inapp_stream_listen=false): one query per poll for all streams of the process.
Per phase: the database's transactions per second while the streams are open and idle (pg_stat_database
xact counters, whole database: notify's other loops included, see the 0-stream line) and statements
per second sent by the app's engine (counted in-process); then M in-app commands, each for one
connected user, and the latency from the message's stored time (created_at, same clock) and from the
publish to the event arriving on that user's stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.notify.api.inapp import eligible_now, sse_events, sse_message
from touchline.notify.main import build_app
from touchline.notify.settings import NotifySettings
from touchline.notify.state import NotifyState
from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.kafka import make_producer
from touchline.shared.messages import Command, Recipients
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.testing import ensure_infra, isolated

HOME = Path(__file__).resolve().parents[1] / ".touchline"


async def polling_events(state: NotifyState, user_id: str) -> AsyncIterator[str]:
    """The stream as it was before the watcher (commit 197b511), minus request.is_disconnected()."""
    sent: set[str] = set()
    idle = 0.0
    yield "retry: 3000\n\n"
    while not state.stopping():
        for message in await eligible_now(state, user_id):
            if message["id"] not in sent:
                sent.add(message["id"])
                yield sse_message(message)
                idle = 0.0
        await asyncio.sleep(state.settings.poll_seconds)
        idle += state.settings.poll_seconds
        if idle >= 15.0:
            idle = 0.0
            yield ": keep-alive\n\n"


class Counter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


async def xacts(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = await conn.scalar(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(value or 0)


async def read(events: AsyncIterator[str], arrivals: dict[str, tuple[float, dict[str, Any]]], user: str) -> None:
    async for chunk in events:
        if chunk.startswith("id: "):
            data = json.loads(chunk.split("data: ", 1)[1])
            arrivals.setdefault(user, (time.time(), data))


def command(user: str) -> Command:
    cid = str(uuid.uuid4())
    return Command(
        command_id=cid, account_id=str(uuid.uuid4()), channel="in_app", template="onboarding.tips", dedup_key=cid,
        issued_at=datetime.now(UTC), recipients=Recipients(role="user", user_ids=[user]),
    )  # fmt: skip


async def phase(name: str, common: CommonSettings, args: argparse.Namespace, **settings: Any) -> dict[str, float]:
    mode = settings.pop("mode")
    app = build_app(common, NotifySettings(**settings))
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()

    async def publish(user: str) -> None:
        key, value, headers = encode(command(user), source="bench")
        await producer.send_and_wait(topics.name(topics.COMMANDS, common.topic_prefix), value, key, headers=headers)

    try:
        async with app.router.lifespan_context(app):
            state: NotifyState = app.state.notify
            counter = Counter(state.engine)
            warm = f"warm-{uuid.uuid4().hex[:8]}"
            await publish(warm)  # the consumer has joined its group before anything is measured
            for _ in range(600):
                if await eligible_now(state, warm):
                    break
                await asyncio.sleep(0.1)
            users = [f"{name}-{i}-{uuid.uuid4().hex[:6]}" for i in range(args.streams if mode != "none" else 0)]
            arrivals: dict[str, tuple[float, dict[str, Any]]] = {}
            make = (lambda u: polling_events(state, u)) if mode == "poll" else (lambda u: sse_events(state.hub, u))
            readers = [asyncio.create_task(read(make(u), arrivals, u)) for u in users]
            await asyncio.sleep(3)  # every stream connected and past its first check
            s0, x0, t0 = counter.statements, await xacts(state.engine), time.perf_counter()
            await asyncio.sleep(args.idle)
            s1, x1, t1 = counter.statements, await xacts(state.engine), time.perf_counter()
            published: dict[str, float] = {}
            for user in users[: args.messages]:
                published[user] = time.time()
                await publish(user)
                await asyncio.sleep(args.gap)
            for _ in range(1200):  # at most a minute for the last one
                if all(u in arrivals for u in published):
                    break
                await asyncio.sleep(0.05)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        await producer.stop()
    got = [u for u in published if u in arrivals]
    from_store = [
        (arrivals[u][0] - datetime.fromisoformat(arrivals[u][1]["created_at"]).timestamp()) * 1000 for u in got
    ]
    from_publish = [(arrivals[u][0] - published[u]) * 1000 for u in got]
    return {
        "xacts_s": (x1 - x0) / (t1 - t0),
        "stmts_s": (s1 - s0) / (t1 - t0),
        "delivered": len(got),
        "sent": len(published),
        "store_p50": statistics.median(from_store) if from_store else float("nan"),
        "store_max": max(from_store) if from_store else float("nan"),
        "pub_p50": statistics.median(from_publish) if from_publish else float("nan"),
        "pub_p95": statistics.quantiles(from_publish, n=20)[-1] if len(from_publish) > 1 else float("nan"),
    }


async def main(args: argparse.Namespace) -> None:
    infra = ensure_infra(HOME)
    url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="b")
    common = CommonSettings(
        env="test", kafka_bootstrap_servers=infra.bootstrap_servers, database_url=url, topic_prefix=prefix
    )
    load_before = load()
    base: dict[str, Any] = {"poll_seconds": args.poll}
    rows = [
        ("no streams (notify's other loops)", await phase("idle", common, args, mode="none", **base)),
        ("before: each stream polls", await phase("poll", common, args, mode="poll", **base)),
        ("after: one watcher, LISTEN", await phase("listen", common, args, mode="hub", **base)),
        ("after: one watcher, listen off", await phase("nolisten", common, args, mode="hub", **base, inapp_stream_listen=False)),
    ]  # fmt: skip
    print(f"{args.streams} streams, poll_seconds {args.poll}, {args.messages} messages; "
          f"load average {load_before} before, {load()} after")  # fmt: skip
    print(f"{'':34} {'db xacts/s':>10} {'app stmts/s':>11} {'delivered':>9}  "
          f"{'stored->stream p50/max ms':>25}  {'publish->stream p50/p95 ms':>26}")  # fmt: skip
    for label, r in rows:
        print(
            f"{label:34} {r['xacts_s']:10.1f} {r['stmts_s']:11.1f} {r['delivered']:>4}/{r['sent']:<4}  "
            f"{r['store_p50']:12.0f} / {r['store_max']:<10.0f}  {r['pub_p50']:12.0f} / {r['pub_p95']:<10.0f}"
        )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle load measured per phase")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two published messages")
    parser.add_argument("--poll", type=float, default=0.5, help="poll_seconds (the production default)")
    asyncio.run(main(parser.parse_args()))
