"""/readyz for ingest: Postgres answers and the Kafka producer is connected.

Registered before the shared ops router so it takes precedence over its /readyz, which cannot
know that ingest keeps running (answering 503) while Kafka is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from touchline.shared.runtime import Runtime


def readiness_router(get_runtime: Callable[[], Runtime | None], get_connection: Callable[[], Any]) -> APIRouter:
    api = APIRouter(tags=["ops"])

    @api.get("/readyz", operation_id="ingest_readyz")
    async def readyz() -> JSONResponse:
        runtime, connection = get_runtime(), get_connection()
        problems: list[str] = []
        if runtime is None or connection is None:
            problems.append("starting")
        else:
            try:
                async with runtime.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except Exception as exc:  # any failure means not ready; the name says which
                problems.append(f"database: {exc.__class__.__name__}")
            if connection.producer is None:
                problems.append("kafka: not connected")
            if any(t.done() for t in runtime.tasks if t.get_name() != "kafka-connect") and not runtime.stop.is_set():
                problems.append("a background task stopped")
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=200 if not problems else 503)

    return api
