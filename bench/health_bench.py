"""Health throughput and latency vs a bare consume-and-upsert loop. Not a test.

In one run, on the same broker, database server and events:
- baseline: a bare aiokafka loop that reads the events topic and upserts one row per event with
  asyncpg (executemany, one transaction per batch, offsets in the same transaction). Batches of
  2,000 records: its fastest setting measured (10,000 with 4 MiB fetches gave 45k vs 66k events/s);
- health: the real service as a process (``touchline health``): decode, dedup by message id,
  group by account, fold aggregates, rescore, write state + history, publish score events.
Throughput is measured from the first to the last committed batch (start-up excluded for both).
Then latency: events sent at a steady rate, from the broker's acknowledgement (when ingest would
answer 200) to the health transaction that scored them being committed (offset row polled every 5 ms).

Each round uses a fresh database and topics; the ratio reported is the median of the rounds
(the baseline alone varies by ~1.4x between runs on a shared 2-core machine).

    .venv/bin/python -m bench.health_bench [--events 100000] [--accounts 2000[,20000,200000]] [--rate 1000] [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.kafka import make_producer
from touchline.shared.messages import ProductEvent
from touchline.shared.stack.layout import free_port
from touchline.shared.stack.testing import asyncpg_dsn, ensure_infra, isolated

HOME = Path(os.environ.get("TOUCHLINE_HOME", Path(__file__).resolve().parents[1] / ".touchline"))
FEATURES = ["reports", "dashboards", "exports", "alerts", "integrations", "search", "billing", "admin"]


def make_events(n: int, accounts: int, *, seed: int = 11) -> list[ProductEvent]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = [
        ProductEvent(
            message_id=f"g-{a}-{uuid.uuid4().hex}",
            account_id=f"acct-{a}",
            kind="group",
            traits={"seats": 20, "plan": rng.choice(["pro", "enterprise", "starter"]), "roi": 7},
            timestamp=now,
            received_at=now,
        )
        for a in range(accounts)
    ]
    while len(out) < n:
        a, roll = rng.randrange(accounts), rng.random()
        semantic = "login" if roll < 0.1 else "feature_used" if roll < 0.85 else "other"
        out.append(
            ProductEvent(
                message_id=uuid.uuid4().hex,
                account_id=f"acct-{a}",
                kind="track",
                event="Signed In" if semantic == "login" else "Feature Used",
                semantic=semantic,  # type: ignore[arg-type]
                feature=rng.choice(FEATURES) if semantic == "feature_used" else None,
                user_id=f"user-{a}-{rng.randrange(15)}",
                timestamp=now,
                received_at=now,
                properties={"duration_ms": rng.randint(50, 9000)},
                context={"library": {"name": "analytics-python", "version": "2.3.4"}, "locale": "ja-JP"},
            )
        )
    return out


async def produce(bootstrap: str, topic: str, events: list[ProductEvent]) -> list[tuple[int, int, float]]:
    """Send all events; returns (partition, offset, acked_at) per event."""
    producer = make_producer(bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for e in events:
            key, value, headers = encode(e, source="touchline/bench")
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
        acked = await asyncio.gather(*futures)
        t = time.perf_counter()
        return [(md.partition, md.offset, t) for md in acked]
    finally:
        await producer.stop()


async def baseline(bootstrap: str, dsn: str, topic: str, total: int) -> float:
    """Bare loop: consume, upsert one row per event, store offsets, commit. Returns events/s."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        """CREATE SCHEMA IF NOT EXISTS bench;
        CREATE TABLE IF NOT EXISTS bench.seen (account_id text PRIMARY KEY, n bigint, last_id text);
        CREATE TABLE IF NOT EXISTS bench.offsets (topic text, partition int, next_offset bigint,
            PRIMARY KEY (topic, partition))"""
    )
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000,
    )  # fmt: skip
    await consumer.start()
    done, first = 0, None
    try:
        while done < total:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            records = [r for part in batch.values() for r in part]
            if not records:
                continue
            first = first or time.perf_counter()
            rows = []
            for r in records:
                data = orjson.loads(r.value)
                rows.append((data["account_id"], data["message_id"]))
            async with conn.transaction():
                await conn.executemany(
                    """INSERT INTO bench.seen (account_id, n, last_id) VALUES ($1, 1, $2)
                    ON CONFLICT (account_id) DO UPDATE SET n = bench.seen.n + 1, last_id = EXCLUDED.last_id""",
                    rows,
                )
                positions = {(r.topic, r.partition): r.offset + 1 for r in records}
                await conn.executemany(
                    """INSERT INTO bench.offsets VALUES ($1, $2, $3) ON CONFLICT (topic, partition)
                    DO UPDATE SET next_offset = EXCLUDED.next_offset""",
                    [(t, p, o) for (t, p), o in positions.items()],
                )
            done += len(records)
        return done / (time.perf_counter() - (first or 0))
    finally:
        await consumer.stop()
        await conn.close()


async def consumed(conn: asyncpg.Connection, topic: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM health.consumed_offsets WHERE group_id = 'health' AND topic = $1", topic
    )
    return {r["partition"]: r["next_offset"] for r in rows}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process: steadier than events/s on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def health_throughput(conn: asyncpg.Connection, topic: str, total: int, pid: int) -> tuple[float, float, float]:
    """Returns (events/s, server CPU seconds per event, share of wall time the server was on CPU)."""
    first_t, first_n, first_cpu = None, 0, 0.0
    while True:
        n = sum((await consumed(conn, topic)).values())
        now = time.perf_counter()
        if n and first_t is None:
            first_t, first_n, first_cpu = now, n, cpu_seconds(pid)
        if n >= total:
            # The first sample already includes one batch: count only what came after it.
            if not first_t or now <= first_t or n <= first_n:
                return float("nan"), float("nan"), float("nan")
            cpu = cpu_seconds(pid) - first_cpu
            return (n - first_n) / (now - first_t), cpu / (n - first_n), cpu / (now - first_t)
        await asyncio.sleep(0.02)


async def health_latency(
    bootstrap: str, conn: asyncpg.Connection, topic: str, events: list[ProductEvent], rate: int
) -> list[float]:
    """Send at ``rate`` events/s in 10 ms slices; latency = ack -> offset committed by health."""
    producer = make_producer(bootstrap, linger_ms=0)
    await producer.start()
    pending: list[tuple[int, int, float]] = []
    latencies: list[float] = []
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set() or pending:
            offsets = await consumed(conn, topic)
            now = time.perf_counter()
            still = []
            for p, o, acked in pending:
                (latencies.append(now - acked) if offsets.get(p, 0) > o else still.append((p, o, acked)))
            pending[:] = still
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        per_slice = max(rate // 100, 1)
        start = time.perf_counter()
        for i in range(0, len(events), per_slice):
            chunk = events[i : i + per_slice]
            futures = []
            for e in chunk:
                key, value, headers = encode(e, source="touchline/bench")
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            for md in await asyncio.gather(*futures):
                pending.append((md.partition, md.offset, time.perf_counter()))
            await asyncio.sleep(max(0.0, start + (i + per_slice) / rate - time.perf_counter()))
        stop.set()
        await asyncio.wait_for(watcher, 60)
    finally:
        await producer.stop()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="health_bench")
    parser.add_argument("--events", type=int, default=100_000, help="at least twice the accounts are sent")
    parser.add_argument(
        "--accounts", default="2000", help="accounts, or several sizes run one after the other: 2000,20000,200000"
    )
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="baseline + health rounds; the median ratio counts")
    args = parser.parse_args(argv)
    summary = []
    for accounts in (int(a) for a in args.accounts.split(",")):
        summary.append(await run_size(args, accounts=accounts, n_events=max(args.events, 2 * accounts)))
    print("\nsummary (same machine, same run; the machine is shared, compare ratios):")
    for line in summary:
        print(f"  {line}")
    return 0


async def run_size(args: argparse.Namespace, *, accounts: int, n_events: int) -> str:
    """The rounds for one number of accounts; returns a summary line."""
    args.accounts, args.events = accounts, n_events
    infra = ensure_infra(HOME)
    print(
        f"{args.events:,} events over {args.accounts:,} accounts, {args.rounds} round(s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    events = make_events(args.events, args.accounts)
    ratios: list[float] = []
    figures: list[str] = []
    for round_no in range(1, args.rounds + 1):
        # A fresh database and topics per round: both loops start from nothing each time.
        database_url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="b")
        topic = topics.name(topics.EVENTS, prefix)
        dsn = asyncpg_dsn(database_url)
        await produce(infra.bootstrap_servers, topic, events)
        base_rate = await baseline(infra.bootstrap_servers, dsn, topic, len(events))
        server = start_health(infra.bootstrap_servers, database_url, prefix)
        conn = await asyncpg.connect(dsn)
        try:
            health_rate, cpu_per_event, busy = await health_throughput(conn, topic, len(events), server.pid)
            ratios.append(health_rate / base_rate)
            print(
                f"round {round_no}: baseline (bare consume + asyncpg upsert per event) {base_rate:,.0f} events/s; "
                f"health {health_rate:,.0f} events/s; ratio {ratios[-1]:.2f}\n"
                f"  health process: {cpu_per_event * 1e6:.0f} us CPU/event, on CPU {busy:.0%} of the wall time, "
                f"peak memory {peak_rss_mib(server.pid):.0f} MiB"
            )
            figures.append(
                f"baseline {base_rate:,.0f}/s, health {health_rate:,.0f}/s, {cpu_per_event * 1e6:.0f} us CPU/event, "
                f"{peak_rss_mib(server.pid):.0f} MiB"
            )
            if round_no < args.rounds:
                continue
            print(
                f"ratio health / baseline, median of {len(ratios)}: {statistics.median(ratios):.2f} "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.5; absolute target >= 10,000/s)"
            )
            paced = make_events(args.accounts + args.rate * args.seconds, args.accounts, seed=99)[args.accounts :]
            latencies = await health_latency(infra.bootstrap_servers, conn, topic, paced, args.rate)
            print(
                f"latency at {args.rate} events/s over {len(latencies)} events, broker ack -> score committed: "
                f"p50 {pct(latencies, 50) * 1000:.0f} ms, p99 {pct(latencies, 99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms (target p99 < 250 ms; 5 ms polling resolution)"
            )
            half = latencies[len(latencies) // 2 :]
            print(f"  second half only: p50 {pct(half, 50) * 1000:.0f} ms, p99 {pct(half, 99) * 1000:.0f} ms")
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        finally:
            await conn.close()
            server.terminate()
            server.wait()
    return (
        f"{accounts:,} accounts, {n_events:,} events: ratio {statistics.median(ratios):.2f} (median of {len(ratios)}); "
        + "; ".join(figures)
    )


def start_health(bootstrap: str, database_url: str, prefix: str) -> subprocess.Popen[bytes]:
    """The real service as a process, with its defaults (consumers, batch and cache sizes)."""
    env = dict(os.environ)
    env.update(
        TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        TOUCHLINE_DATABASE_URL=database_url,
        TOUCHLINE_TOPIC_PREFIX=prefix,
        TOUCHLINE_CLOCK="system",
        TOUCHLINE_LOG_LEVEL="WARNING",
        TOUCHLINE_HEALTH_PORT=str(free_port()),
    )
    return subprocess.Popen([sys.executable, "-m", "touchline.shared.cli", "health"], env=env)


if __name__ == "__main__":
    import uvloop

    raise SystemExit(uvloop.run(main(sys.argv[1:])))
