"""What the last CSV import of each record set, in ``ingest.imported_records``. No decisions here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..csvimport import Previous, Record
from .postgres import _errors


class PostgresImportedRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def known(self, keys: Sequence[str]) -> dict[str, Previous]:
        if not keys:
            return {}
        async with _errors(), self._engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT record_key, digest, traits::text AS traits FROM ingest.imported_records"
                    " WHERE record_key = ANY(CAST(:keys AS text[]))"
                ),
                {"keys": list(keys)},
            )
            return {row.record_key: Previous(orjson.loads(row.traits), row.digest) for row in result}

    async def remember(self, records: Sequence[Record], *, source: str, now: datetime) -> None:
        async with _errors(), self._engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO ingest.imported_records (record_key, digest, traits, source, imported_at)
                    VALUES (:k, :d, CAST(:t AS jsonb), :s, :now) ON CONFLICT (record_key) DO UPDATE SET
                      digest = EXCLUDED.digest, traits = EXCLUDED.traits, source = EXCLUDED.source,
                      imported_at = EXCLUDED.imported_at"""
                ),
                [
                    {"k": r.key, "d": r.digest, "t": orjson.dumps(r.traits).decode(), "s": source, "now": now}
                    for r in records
                ],
            )
