"""The consumer's account cache on the real Postgres: a hit skips reading the state back, and
anything written by someone else, or rolled back, is read again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.health.adapters.postgres import PostgresHealthRepository, StateCache
from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.domain.account import Policy
from touchline.health.domain.codec import state_to_dict
from touchline.health.handlers import HealthContext, change_override, handle_batch
from touchline.shared.clock import SimulatedClock
from touchline.shared.cloudevents import Envelope
from touchline.shared.db import make_engine
from touchline.shared.messages import ProductEvent
from touchline.shared.settings import CommonSettings

T0 = datetime(2027, 5, 3, 9, tzinfo=UTC)


@pytest.fixture
async def engine(common: CommonSettings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(common.database_url)
    yield engine
    await engine.dispose()


def _ctx() -> HealthContext:
    return HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=SimulatedClock(T0 + timedelta(days=1)))


def _batch(accounts: list[str], n: int, *, start: int = 0) -> list[Envelope]:
    out = []
    for i in range(start, start + n):
        account = accounts[i % len(accounts)]
        e = ProductEvent(
            message_id=f"{account}-{i}",
            account_id=account,
            kind="track",
            semantic="login" if i % 3 == 0 else "feature_used",
            feature=["reports", "exports", "alerts"][i % 3],
            user_id=f"u{i % 4}",
            timestamp=T0 + timedelta(hours=i),
            received_at=T0 + timedelta(hours=i),
        )
        out.append(Envelope(e.message_id, "t", e.ce_type, e, "t", 0, i, account))
    return out


async def _run(engine: AsyncEngine, batches: list[list[Envelope]], cache: StateCache | None) -> None:
    ctx = _ctx()
    for batch in batches:
        async with engine.begin() as conn:
            await handle_batch(batch, repo=PostgresHealthRepository(conn, cache=cache), ctx=ctx)


async def _stored(engine: AsyncEngine, accounts: list[str]) -> dict[str, tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT account_id, state::text AS state, score, band, measures::text AS m, published::text AS p
                FROM health.accounts WHERE account_id = ANY(:ids)"""
            ),
            {"ids": accounts},
        )
        return {r.account_id: (r.state, r.score, r.band, r.m, r.p) for r in rows}


async def test_cached_runs_store_what_uncached_runs_store_and_skip_the_reads(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:8]
    plain, cached = [f"{tag}-p{i}" for i in range(5)], [f"{tag}-c{i}" for i in range(5)]
    await _run(engine, [_batch(plain, 20, start=s) for s in (0, 20, 40)], cache=None)
    cache = StateCache(100)
    await _run(engine, [_batch(cached, 20, start=s) for s in (0, 20, 40)], cache=cache)
    assert (cache.hits, cache.misses) == (10, 0)  # batches 2 and 3, five accounts each
    a, b = await _stored(engine, plain), await _stored(engine, cached)
    # Same events per account (the state holds no account or message ids): the same rows.
    assert [a[p] for p in plain] == [b[c] for c in cached]


async def test_a_write_by_anyone_else_is_read_again(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:8]
    account = f"{tag}-a"
    cache, ctx = StateCache(100), _ctx()
    await _run(engine, [_batch([account], 3)], cache=cache)
    # An override through the API's repository (no cache) writes a new version.
    async with engine.begin() as conn:
        request = {"kind": "band", "band": "good", "reason": "renewed", "expires_at": T0 + timedelta(days=30)}
        await change_override(account, repo=PostgresHealthRepository(conn), ctx=ctx, set_by="csm@x", request=request)
    async with engine.begin() as conn:
        loaded = await PostgresHealthRepository(conn, cache=cache).load([account])
    assert (cache.hits, cache.misses) == (0, 1)
    assert [o.band for o in loaded[account].overrides] == ["good"]


async def test_a_rolled_back_batch_leaves_the_cache_unable_to_answer(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:8]
    account = f"{tag}-a"
    cache = StateCache(100)
    await _run(engine, [_batch([account], 3)], cache=cache)
    committed = (await _stored(engine, [account]))[account]
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await handle_batch(
                _batch([account], 5, start=3), repo=PostgresHealthRepository(conn, cache=cache), ctx=_ctx()
            )
            raise RuntimeError("the commit failed")  # after the save put the account back in the cache
    assert (await _stored(engine, [account]))[account] == committed
    async with engine.begin() as conn:
        loaded = await PostgresHealthRepository(conn, cache=cache).load([account])
    assert cache.misses == 1
    assert orjson.loads(orjson.dumps(state_to_dict(loaded[account].state))) == _state_of(committed)


def _state_of(row: tuple[object, ...]) -> dict[str, object]:
    return orjson.loads(str(row[0]))  # type: ignore[no-any-return]


async def test_the_cache_keeps_the_most_recently_written_accounts(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:8]
    accounts = [f"{tag}-{i}" for i in range(4)]
    cache = StateCache(2)
    await _run(engine, [_batch(accounts[:2], 2), _batch(accounts[2:], 2)], cache=cache)
    assert len(cache) == 2 and cache.version(accounts[0]) is None and cache.version(accounts[3]) is not None


class Forgetful(StateCache):
    """Loses every account between the query and the hand-out (a bug the load must survive)."""

    def take(self, account_id: str, version: int) -> None:  # type: ignore[override]
        super().take(account_id, version)
        return None


async def test_an_account_the_cache_cannot_hand_out_is_read_from_the_database(engine: AsyncEngine) -> None:
    tag = uuid.uuid4().hex[:8]
    account = f"{tag}-a"
    cache = Forgetful(100)
    await _run(engine, [_batch([account], 3)], cache=cache)
    async with engine.begin() as conn:
        loaded = await PostgresHealthRepository(conn, cache=cache).load([account])
    assert orjson.loads(orjson.dumps(state_to_dict(loaded[account].state))) == _state_of(
        (await _stored(engine, [account]))[account]
    )


async def test_a_write_that_keeps_the_version_still_invalidates_the_cache(engine: AsyncEngine) -> None:
    """An operator's UPDATE by hand (or an older replica) does not set a version: the trigger does."""
    tag = uuid.uuid4().hex[:8]
    account = f"{tag}-a"
    cache = StateCache(100)
    await _run(engine, [_batch([account], 3)], cache=cache)
    async with engine.begin() as conn:
        await conn.execute(
            text("""UPDATE health.accounts SET state = jsonb_set(state::jsonb, '{traits}', '{"seats": 7}')::json
                WHERE account_id = :a"""),
            {"a": account},
        )
    async with engine.begin() as conn:
        loaded = await PostgresHealthRepository(conn, cache=cache).load([account])
    assert cache.hits == 0 and loaded[account].state.traits == {"seats": 7}
