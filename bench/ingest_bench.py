"""Ingest throughput: events/s through POST /v1/batch vs a bare aiokafka producer. Not a test.

Both sides send the same realistic Segment payloads (100 events per request / per gathered send),
to the same broker, with an idempotent producer and acks=all, at the same concurrency. Ingest runs
as a real process (``touchline ingest``, uvicorn + uvloop); its users are grouped beforehand, so
every event goes through the user -> account lookup in Postgres, as product traffic does. Both
producers get ingest's batch size; the load generator is as cheap as it can be (prepared
HTTP/1.1 requests on keep-alive sockets) because it shares the machine's CPUs with ingest.

    .venv/bin/python bench/ingest_bench.py [--requests 600] [--concurrency 8] [--client httpx]
                                           [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from touchline.ingest.main import MAX_BATCH_BYTES
from touchline.shared import topics
from touchline.shared.kafka import make_producer
from touchline.shared.stack.testing import ensure_infra, isolated

HOME = Path(os.environ.get("TOUCHLINE_HOME", Path(__file__).resolve().parents[1] / ".touchline"))
WRITE_KEY = "dev-bench-key"
FEATURES = ["reports", "dashboards", "exports", "alerts", "integrations", "search", "billing", "admin"]
PAGES = ["/home", "/reports", "/settings", "/billing", "/team"]


def users(accounts: int, per_account: int) -> list[tuple[str, str]]:
    return [(f"acct-{a}", f"user-{a}-{u}") for a in range(accounts) for u in range(per_account)]


def event(rng: random.Random, account_user: tuple[str, str], now: str) -> dict[str, Any]:
    """A realistic product event (~600-900 bytes): mostly feature use, some pages, some logins."""
    _, user = account_user
    context = {
        "library": {"name": "analytics-python", "version": "2.3.4"},
        "ip": f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "locale": "ja-JP",
        "page": {"path": rng.choice(PAGES), "referrer": "https://app.example.com/"},
    }
    base = {"userId": user, "messageId": str(uuid.uuid4()), "timestamp": now, "context": context}
    roll = rng.random()
    if roll < 0.1:
        return {"type": "track", "event": "Signed In", "properties": {"method": "sso"}, **base}
    if roll < 0.25:
        return {"type": "page", "name": rng.choice(PAGES), "properties": {"title": "Touchline"}, **base}
    feature = rng.choice(FEATURES)
    properties = {"feature": feature, "duration_ms": rng.randint(50, 9000), "plan": "pro", "items": rng.randint(1, 50)}
    return {"type": "track", "event": f"{feature.title()} Used", "properties": properties, **base}


def batches(n: int, people: list[tuple[str, str]], seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    return [{"batch": [event(rng, rng.choice(people), now) for _ in range(100)], "sentAt": now} for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


RETRIED: list[str] = []


async def run_ingest(
    urls: list[str], bodies: list[bytes], concurrency: int, *, client: str = "raw"
) -> tuple[float, list[float]]:
    """Post every body; a 503 is retried (as the SDKs do, same messageIds) and counted in RETRIED.

    With several ingest processes (``urls``), the connections are spread over them evenly."""
    if client == "httpx":
        return await _run_ingest_httpx(urls[0], bodies, concurrency)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    async def worker(url: str) -> None:
        # One keep-alive HTTP/1.1 connection per worker, requests written as prepared bytes: the
        # load generator shares the 2 CPUs with ingest, so it should cost as little as it can.
        host, port = url.removeprefix("http://").split(":")
        head = f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
        head += "Content-Type: application/json\r\n"
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                status_line, _, header_block = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
                status = int(status_line.split()[1])
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(b":") for line in header_block.split(b"\r\n"))
                }
                answer = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                latencies.append(time.perf_counter() - started)
                if status == 503:
                    RETRIED.append(orjson.loads(answer)["message"])
                    queue.put_nowait(body)
                    await asyncio.sleep(0.1)
                elif status != 200:
                    raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(urls[i % len(urls)]) for i in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _run_ingest_httpx(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, auth=(WRITE_KEY, ""), limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
                latencies.append(time.perf_counter() - started)
                if response.status_code == 503:
                    RETRIED.append(response.json()["message"])
                    queue.put_nowait(body)
                    await asyncio.sleep(0.1)
                elif response.status_code != 200:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def run_bare(bootstrap: str, topic: str, docs: list[dict[str, Any]], concurrency: int) -> float:
    """The same events, keyed by account, straight from an idempotent acks=all producer."""
    accounts = {e["userId"]: e["userId"].rsplit("-", 1)[0].replace("user", "acct") for d in docs for e in d["batch"]}
    producer = make_producer(bootstrap, max_batch_size=MAX_BATCH_BYTES)  # ingest's producer settings
    await producer.start()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for doc in docs:
        queue.put_nowait(doc)
    try:

        async def worker() -> None:
            while not queue.empty():
                doc = queue.get_nowait()
                futures = [
                    await producer.send(topic, value=orjson.dumps(e), key=accounts[e["userId"]].encode())
                    for e in doc["batch"]
                ]
                await asyncio.gather(*futures)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started
    finally:
        await producer.stop()


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process: the machine is shared, so CPU per event is the steadier figure."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def start_server(env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "touchline.shared.cli", "ingest"], env=env)
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(600):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    server.terminate()
    raise SystemExit("ingest never became ready")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="batches of 100 events per side and round")
    parser.add_argument("--concurrency", type=int, default=8, help="requests (or sends) in flight")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians are kept")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="HTTP load generator: prepared HTTP/1.1 requests on keep-alive sockets (cheap), or httpx",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="ingest processes (an operator's lever: replicas behind one address); the baseline stays ONE producer",
    )
    args = parser.parse_args(argv)
    if args.processes > 1 and args.client != "raw":
        parser.error("--processes needs the raw client")

    infra = ensure_infra(HOME)
    database_url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="bench")
    topic = topics.name(topics.EVENTS, prefix)
    people = users(accounts=200, per_account=10)
    env = {
        **os.environ,
        "TOUCHLINE_ENV": "test",
        "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "TOUCHLINE_DATABASE_URL": database_url,
        "TOUCHLINE_TOPIC_PREFIX": prefix,
        "TOUCHLINE_LOG_LEVEL": "WARNING",
        "TOUCHLINE_INGEST_WRITE_KEYS": f"bench:{WRITE_KEY}",
        "TOUCHLINE_INGEST_RATE_LIMIT_EVENTS_PER_SECOND": "1000000000",
    }
    urls, servers = [], []
    for _ in range(args.processes):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        servers.append(await start_server({**env, "TOUCHLINE_INGEST_PORT": str(port)}, urls[-1]))
    ingest_rates: list[float] = []
    bare_rates: list[float] = []
    latencies: list[float] = []
    ingest_cpu = bare_cpu = client_cpu = 0.0
    try:
        async with httpx.AsyncClient(base_url=urls[0], auth=(WRITE_KEY, "")) as client:
            groups = [{"type": "group", "userId": u, "groupId": a, "traits": {"plan": "pro"}} for a, u in people]
            for i in range(0, len(groups), 500):
                (await client.post("/v1/batch", json={"batch": groups[i : i + 500]})).raise_for_status()
        warmup = batches(20, people, seed=1)
        await run_ingest(urls, [orjson.dumps(d) for d in warmup], args.concurrency, client=args.client)
        await run_bare(infra.bootstrap_servers, topic, warmup, args.concurrency)
        for round_ in range(args.rounds):
            docs = batches(args.requests, people, seed=100 + round_)
            bodies = [orjson.dumps(d) for d in docs]
            before = cpu_seconds()
            bare_s = await run_bare(infra.bootstrap_servers, topic, docs, args.concurrency)
            bare_cpu += cpu_seconds() - before
            before, before_client = sum(cpu_seconds(s.pid) for s in servers), cpu_seconds()
            ingest_s, round_latencies = await run_ingest(urls, bodies, args.concurrency, client=args.client)
            ingest_cpu += sum(cpu_seconds(s.pid) for s in servers) - before
            client_cpu += cpu_seconds() - before_client
            bare_rates.append(len(docs) * 100 / bare_s)
            ingest_rates.append(len(docs) * 100 / ingest_s)
            latencies += round_latencies
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)

    events = args.requests * 100
    total = events * args.rounds
    bare_rate, ingest_rate = statistics.median(bare_rates), statistics.median(ingest_rates)
    mean_bytes = statistics.mean(len(b) for b in bodies) / 100
    print(f"events: {args.rounds} rounds x {events} in batches of 100, ~{mean_bytes:.0f} bytes/event (Segment JSON),")
    print(f"        concurrency {args.concurrency}, {os.cpu_count()} CPUs shared with the broker and Postgres")
    generator = "prepared HTTP/1.1 requests on keep-alive sockets" if args.client == "raw" else "httpx"
    what = "ONE ingest process" if args.processes == 1 else f"{args.processes} ingest processes (NOT like for like)"
    print(f"compares  {what} (uvicorn, 1 worker each) with ONE bare producer; load generator: {generator};")
    print(f"          both producers idempotent, acks=all, max_batch_size {MAX_BATCH_BYTES // 1024} KiB")
    print(
        f"baseline  bare aiokafka producer, same events          : {bare_rate:>9,.0f} events/s (median; rounds {_fmt(bare_rates)})"
    )
    print(
        f"ingest    POST /v1/batch -> Kafka (acks=all)           : {ingest_rate:>9,.0f} events/s (median; rounds {_fmt(ingest_rates)})"
    )
    # Each round's ingest figure beside the baseline measured just before it: other work on the
    # machine comes and goes, and a ratio of two medians taken minutes apart can pair a quiet
    # moment with a busy one.
    paired = sorted(i / b for i, b in zip(ingest_rates, bare_rates, strict=True))
    print(
        f"ratio     ingest / baseline                            : {statistics.median(paired):.2f} (target >= 0.6;"
        f" median of each round's pair, range {paired[0]:.2f}-{paired[-1]:.2f}; ratio of medians"
        f" {ingest_rate / bare_rate:.2f})"
    )
    print(
        f"latency   /v1/batch p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms"
    )
    if RETRIED:
        print(f"503s      {len(RETRIED)} requests answered 503 and were retried, e.g. {RETRIED[0]!r}")
    print(
        f"CPU/event baseline {bare_cpu / total * 1e6:.0f} us, ingest server {ingest_cpu / total * 1e6:.0f} us"
        f" (all processes; + {client_cpu / total * 1e6:.0f} us in this process's HTTP client, on the same CPUs)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


def _fmt(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
