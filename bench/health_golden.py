"""Health's write path in one process, on a real Postgres and no broker: a deterministic workload
(events and outcomes over many days, overrides, a decay sweep) through the real handlers and the
Postgres repository. Not a test. Two uses:

- *golden run*: prints a digest of every stored row (accounts, score history, lifecycle) and of
  every score event's bytes; run it before and after a change to the write path and compare
  (``--dump FILE`` writes the rows themselves, to diff);
- *CPU per event* of the handler + repository without the broker and the consumer runner
  (the process's CPU time, so steadier than events/s on a shared machine).

    .venv/bin/python -m bench.health_golden [--accounts 2000] [--events 40000] [--batch 5000] [--cached 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text

from touchline.health.adapters.postgres import PostgresHealthRepository, StateCache
from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.consumer import READERS
from touchline.health.domain.account import Policy
from touchline.health.handlers import HealthContext, change_override, handle_batch, sweep_decay
from touchline.shared.clock import SimulatedClock
from touchline.shared.cloudevents import Encoded, Envelope, decode, encode
from touchline.shared.db import make_engine
from touchline.shared.messages import HealthScored, Message, Outcome, ProductEvent
from touchline.shared.stack.testing import drop_database, ensure_infra, fresh_database

T0 = datetime(2027, 1, 4, 8, tzinfo=UTC)
FEATURES = ["reports", "dashboards", "exports", "alerts", "integrations", "search", "billing", "admin"]


def workload(events: int, accounts: int, *, seed: int = 7) -> list[Message]:
    """Events over ~70 days (so windows, pruning and trends move), with outcomes mixed in."""
    rng = random.Random(seed)
    out: list[Message] = []
    for a in range(accounts):
        traits: dict[str, Any] = {
            "seats": rng.choice([5, 20, 80]),
            "plan": rng.choice(["pro", "enterprise", "starter"]),
        }
        if rng.random() < 0.3:
            traits["roi"] = rng.randint(1, 10)
        if rng.random() < 0.1:
            traits["business_shrinking"] = rng.random() < 0.5
        out.append(
            ProductEvent(
                message_id=f"g-{a}", account_id=f"acct-{a}", kind="group", traits=traits, timestamp=T0, received_at=T0
            )
        )
    span = 70 * 86400
    for i in range(events - accounts):
        a = rng.randrange(accounts)
        at = T0 + timedelta(seconds=span * i / max(events - accounts, 1) + rng.randrange(3600))
        roll = rng.random()
        if roll < 0.03:
            kind = rng.choice(["task.completed", "email.answered", "inapp.answered", "email.opened"])
            answer = None
            if kind != "task.completed" and rng.random() < 0.7:
                answer = {"survey": rng.choice(["nps", "roi"]), "score": rng.randint(0, 10)}
            out.append(
                Outcome(
                    outcome_id=f"o-{i}", account_id=f"acct-{a}", kind=kind, answer=answer,  # type: ignore[arg-type]
                    detail=rng.choice(["", "customer_unreachable", "called"]), occurred_at=at,
                )
            )  # fmt: skip
            continue
        semantic = (
            "login" if roll < 0.15 else "feature_used" if roll < 0.8 else "support_ticket" if roll < 0.82 else
            "cancelled" if roll < 0.825 else "renewed" if roll < 0.83 else "other"
        )  # fmt: skip
        out.append(
            ProductEvent(
                message_id=f"e-{i}", account_id=f"acct-{a}", kind=rng.choice(["track", "track", "page"]),
                semantic=semantic,  # type: ignore[arg-type]
                feature=rng.choice(FEATURES) if semantic == "feature_used" else None,
                user_id=f"u-{a}-{rng.randrange(30)}", timestamp=at, received_at=at + timedelta(seconds=1),
            )
        )  # fmt: skip
    return out


def envelopes(messages: list[Message]) -> list[Envelope]:
    out = []
    for i, m in enumerate(messages):
        key, value, headers = encode(m, source="touchline/golden")
        out.append(decode(topic="t", partition=0, offset=i, key=key, value=value, headers=headers, readers=READERS))
    return out


async def run(args: argparse.Namespace) -> int:
    infra = ensure_infra()
    from touchline.shared.migrate import upgrade_all

    url = await fresh_database(infra.database_url)
    await upgrade_all(url)
    engine = make_engine(url, pool_size=2)
    clock = SimulatedClock(T0)
    ctx = HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=clock)
    cache = StateCache(args.cached)
    envs = envelopes(workload(args.events, args.accounts))
    sent: list[bytes] = []
    published = 0
    cpu = 0.0
    try:
        for n, i in enumerate(range(0, len(envs), args.batch)):
            batch = envs[i : i + args.batch]
            clock.set(max(T0, max(getattr(e.message, "received_at", T0) for e in batch)))
            t = time.process_time()
            async with engine.begin() as conn:
                result = await handle_batch(batch, repo=PostgresHealthRepository(conn, cache=cache), ctx=ctx)
            cpu += time.process_time() - t
            for _, m in result.outgoing:
                sent.append(_score_event(m))
                published += 1
            if n % 4 == 3:  # the decay sweep and an override now and then, as in production
                async with engine.begin() as conn:
                    _, out = await sweep_decay(
                        repo=PostgresHealthRepository(conn), ctx=ctx, now=clock.now() + timedelta(days=1), limit=10**9
                    )
                for _, msg in out:
                    sent.append(_score_event(msg))
                async with engine.begin() as conn:
                    _, out = await change_override(
                        f"acct-{n % args.accounts}", repo=PostgresHealthRepository(conn), ctx=ctx, set_by="golden",
                        request={"kind": "score", "score": 42, "reason": "golden run",
                                 "expires_at": clock.now() + timedelta(days=3)},
                    )  # fmt: skip
                for _, msg in out:
                    sent.append(_score_event(msg))
        digests = await stored_digests(engine, args.dump)
    finally:
        await engine.dispose()
        await drop_database(url)
    print(
        f"{len(envs):,} records over {args.accounts:,} accounts, batches of {args.batch:,}, cache {args.cached:,}: "
        f"handler + repository {cpu / len(envs) * 1e6:.1f} us CPU/record, {published:,} score events"
    )
    for name, digest in [*digests.items(), ("score events", _digest(sent))]:
        print(f"  {name}: {digest[:16]}")
    return 0


_TABLES = {
    "accounts": """SELECT account_id, state::text, overrides::text, published::text, scorecard, score,
        computed_score, band, overridden, measures::text, plan, tier, trend_7d, trend_30d, usage_trend,
        days_since_login, as_of, next_aging_at FROM health.accounts ORDER BY account_id""",
    "score_history": """SELECT account_id, computed_at, score, computed_score, band, scorecard, overridden,
        measures::text, cause, score_id, recorded_at FROM health.score_history ORDER BY id""",
    "lifecycle": "SELECT event_id, account_id, kind, at FROM health.lifecycle ORDER BY event_id",
}


async def stored_digests(engine: Any, dump: str | None) -> dict[str, str]:
    out = {}
    lines: list[bytes] = []
    async with engine.connect() as conn:
        for name, query in _TABLES.items():
            rows = [orjson.dumps([name, *row], default=str) for row in await conn.execute(text(query))]
            out[name] = _digest(rows)
            lines += sorted(rows)
    if dump:
        with open(dump, "wb") as f:
            f.write(b"\n".join(lines))
    return out


def _score_event(message: Message | Encoded) -> bytes:
    """A score event as touch reads it (the model), whichever way it was serialised."""
    data = message.data if isinstance(message, Encoded) else message.model_dump_json().encode()
    return HealthScored.model_validate_json(data).model_dump_json().encode()


def _digest(lines: list[bytes]) -> str:
    # Order-free: the decay sweep takes accounts due at the same instant in any order.
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line)
    return h.hexdigest()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="health_golden")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--cached", type=int, default=10000, help="accounts the state cache holds (0 = none)")
    parser.add_argument("--dump", default=None, help="write every stored row to this file (JSON lines)")
    args = parser.parse_args(argv)
    import uvloop

    return uvloop.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
