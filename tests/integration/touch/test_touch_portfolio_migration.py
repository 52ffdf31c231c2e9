"""touch_0008 on real Postgres: accounts known before it start their book (ARR, owner, churn) from
their stored profile, so the portfolio has a starting point for them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
from alembic import command

from touchline.shared.db import make_engine
from touchline.shared.migrate import alembic_config
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.testing import asyncpg_dsn, drop_database, fresh_database
from touchline.touch.adapters.portfolio import load_book
from touchline.touch.domain.portfolio import portfolio

SEEN, UPDATED = datetime(2030, 1, 5, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC)
ACCOUNTS = {
    "yearly": {"arr": 1200, "csm_owner": " ann@example.com "},
    "monthly": {"mrr": 100, "csm_owner": "bob@example.com"},
    "no-value": {"arr": True, "mrr": "lots", "csm_owner": ""},
    "gone": {"arr": 500},
}


async def test_the_migration_starts_the_book_of_accounts_known_before_it(common: CommonSettings) -> None:
    url = await fresh_database(common.database_url)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config("touch", url), "touch_0007")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            for account_id, traits in ACCOUNTS.items():
                await conn.execute(
                    """INSERT INTO touch.accounts (account_id, traits, first_seen_at, churned, updated_at)
                    VALUES ($1, $2::jsonb, $3, $4, $5)""",
                    account_id,
                    json.dumps(traits),
                    SEEN,
                    account_id == "gone",
                    UPDATED,
                )
        finally:
            await conn.close()
        await asyncio.to_thread(command.upgrade, alembic_config("touch", url), "head")
        engine = make_engine(url)
        try:
            async with engine.connect() as c:
                book = await load_book(c, until=datetime(2031, 1, 1, tzinfo=UTC))
        finally:
            await engine.dispose()
        facts = sorted((c.account_id, c.kind, c.at, c.value, c.label) for c in book.changes)
        assert facts == [
            ("gone", "arr", SEEN, 500, None),
            ("gone", "churned", UPDATED, 1, None),
            ("monthly", "arr", SEEN, 1200, None),
            ("monthly", "owner", SEEN, None, "bob@example.com"),
            ("yearly", "arr", SEEN, 1200, None),
            ("yearly", "owner", SEEN, None, "ann@example.com"),
        ]
        view = portfolio(
            book, start=datetime(2030, 2, 1, tzinfo=UTC), end=datetime(2030, 4, 1, tzinfo=UTC), months=1, by="csm"
        )
        r = view.total.retention
        assert (r.starting_accounts, r.churned_accounts, r.starting_arr, r.churned_arr) == (4, 1, 2900, 500)
        assert [g.key for g in view.groups] == ["ann@example.com", "bob@example.com", None]
    finally:
        await drop_database(url)
