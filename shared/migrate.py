"""Run each service's Alembic migrations into its own Postgres schema.

A service keeps its revisions in ``services/<service>/migrations/``; the environment
(``shared/migrations/env.py``) is shared. ``touchline migrate`` runs them all.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config

SERVICES = ("ingest", "health", "touch", "notify", "console")
_ENV_DIR = Path(__file__).with_name("migrations")


def versions_dir(service: str) -> Path:
    spec = importlib.util.find_spec(f"touchline.{service}")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"service package touchline.{service} not found")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


def alembic_config(service: str, database_url: str, *, schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_ENV_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(versions_dir(service)))
    cfg.attributes["schema"] = schema or service
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_sync(service: str, database_url: str) -> bool:
    """Upgrade one service to head; False when it has no migrations yet."""
    if not versions_dir(service).is_dir():
        return False
    command.upgrade(alembic_config(service, database_url), "head")
    return True


async def upgrade_all(database_url: str, services: tuple[str, ...] = SERVICES) -> list[str]:
    """Upgrade every service (in a thread: Alembic's env runs its own event loop)."""
    done = []
    for service in services:
        if await asyncio.to_thread(upgrade_sync, service, database_url):
            done.append(service)
    return done
