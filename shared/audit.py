"""The audit log: every change a caller makes through a service API, with who, when, what, result.

One mechanism for every service. :class:`AuditTrail` (ASGI middleware) records each request that
``runtime.require_token`` let through with a method other than GET/HEAD/OPTIONS: the actor (the
``X-Touchline-Actor`` a write/admin token vouches for, else the token's name), the token, the
route, its path parameters, the body, the status and the answer. A route that knows the state
before and after calls :func:`note` and those are kept too. The row is written to
``<service>.audit_log`` after the route's own transaction and before the last byte of the answer
leaves, so a client that got its answer can read the entry. New routes are covered by declaring
the token dependency, nothing else. ``GET /v1/audit`` (admin scope) reads them back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from . import metrics
from .api_errors import error_responses, field_error
from .clock import Clock
from .settings import CommonSettings
from .tokens import admin_route

log = logging.getLogger(__name__)
AUDITED_OUT = frozenset({"GET", "HEAD", "OPTIONS"})
# Bodies and answers bigger than this are kept as their first characters (a CSV import can be MBs).
MAX_KEPT = 16_384
_NOTE = "touchline_audit_note"


class HasEngineAndClock(Protocol):
    engine: AsyncEngine
    clock: Clock


def note(
    request: Request, *, before: Any = None, after: Any = None, account_id: str | None = None, action: str | None = None
) -> None:
    """Add what the route knows to its audit entry: the state before and after, the account it
    changed (when the path does not name it), a clearer action name."""
    request.state.touchline_audit_note = {"before": before, "after": after, "account_id": account_id, "action": action}


class AuditTrail:
    """``app.add_middleware(AuditTrail, service="health", get_runtime=...)``; see the module doc."""

    def __init__(self, app: Any, *, service: str, get_runtime: Callable[[], HasEngineAndClock | None]) -> None:
        self.app = app
        self.service = service
        self.get_runtime = get_runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in AUDITED_OUT:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        answer = bytearray()
        status = 0

        async def kept_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= MAX_KEPT:
                body.extend(message.get("body", b"")[: MAX_KEPT + 1 - len(body)])
            return message

        async def recorded_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                if len(answer) <= MAX_KEPT:
                    answer.extend(message.get("body", b"")[: MAX_KEPT + 1 - len(answer)])
                if not message.get("more_body", False):
                    await self._record(scope, bytes(body), bytes(answer), status)
            await send(message)

        await self.app(scope, kept_receive, recorded_send)

    async def _record(self, scope: Any, body: bytes, answer: bytes, status: int) -> None:
        state = scope.get("state") or {}
        caller = state.get("caller")
        runtime = self.get_runtime()
        if caller is None or runtime is None:  # refused before the token check passed: nothing changed
            return
        entry = entry_of(scope, caller=caller, body=body, answer=answer, status=status, service=self.service)
        try:
            await write(runtime.engine, self.service, entry, at=runtime.clock.now())
        except Exception as exc:
            # The change itself is done and committed: answering 500 now would invite a retry that
            # repeats it. Say so loudly instead; the counter alerts.
            metrics.AUDIT_FAILURES.labels(self.service).inc()
            log.error(
                "audit entry not written", extra={"entry": json.dumps(entry, default=str)[:2000], "error": repr(exc)}
            )


def entry_of(scope: Any, *, caller: Any, body: bytes, answer: bytes, status: int, service: str) -> dict[str, Any]:
    """The audit row for one request (pure: from the ASGI scope and the bytes seen)."""
    state = scope.get("state") or {}
    extra = state.get(_NOTE) or {}
    route = getattr(scope.get("route"), "path", None) or scope.get("path", "")
    endpoint = scope.get("endpoint")
    params = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
    request_body = _decoded(body)
    response_body = _decoded(answer)
    account = (
        extra.get("account_id")
        or params.get("account_id")
        or _field(request_body, "account_id")
        or _field(response_body, "account_id")
    )
    action = extra.get("action") or f"{service}.{getattr(endpoint, '__name__', 'unknown')}"
    if "action" in params:
        action = f"{action}.{params['action']}"
    return {
        "actor": caller.actor,
        "token": caller.token,
        "action": action,
        "method": scope["method"],
        "route": route,
        "params": params,
        "account_id": account,
        "body": request_body,
        "status": status,
        "response": response_body,
        "before": extra.get("before"),
        "after": extra.get("after"),
    }


def _decoded(raw: bytes) -> Any:
    if not raw:
        return None
    if len(raw) > MAX_KEPT:
        return {"truncated": True, "first": raw[:MAX_KEPT].decode("utf-8", "replace")}
    try:
        return json.loads(raw)
    except ValueError:
        return {"text": raw.decode("utf-8", "replace")}


def _field(value: Any, name: str) -> str | None:
    found = value.get(name) if isinstance(value, dict) else None
    return str(found) if isinstance(found, str | int) and found != "" else None


COLUMNS = ("actor", "token", "action", "method", "route", "params", "account_id", "body", "status", "response")
JSON_COLUMNS = ("params", "body", "response", "before", "after")


async def write(engine: AsyncEngine, schema: str, entry: dict[str, Any], *, at: datetime) -> None:
    values = {k: json.dumps(v, default=str) if k in JSON_COLUMNS else v for k, v in entry.items()}
    columns = (*COLUMNS, "before", "after")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO {schema}.audit_log (at, {', '.join(columns)}) "
                f"VALUES (:at, {', '.join(f':{c}' for c in columns)})"
            ),
            {"at": at, **{c: values.get(c) for c in columns}},
        )


async def read(
    engine: AsyncEngine,
    schema: str,
    *,
    actor: str | None = None,
    account_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Newest first. ``action``: a part of the action name (``override`` finds health.set_override)."""
    where, args = ["true"], dict[str, Any](limit=limit, offset=offset)
    for column, value in (("actor", actor), ("account_id", account_id)):
        if value:
            where.append(f"{column} = :{column}")
            args[column] = value
    if action:
        where.append("strpos(action, :action) > 0")
        args["action"] = action
    if since:
        where.append("at >= :since")
        args["since"] = since
    if until:
        where.append("at < :until")
        args["until"] = until
    sql = (
        f"SELECT id, at, recorded_at, actor, token, action, method, route, params, account_id, body, status, "
        f"response, before, after FROM {schema}.audit_log WHERE {' AND '.join(where)} "
        "ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql), args)).mappings().all()
    return [
        {**dict(r), "at": r["at"].isoformat(), "recorded_at": r["recorded_at"].isoformat(), "service": schema}
        for r in rows
    ]


def router(
    service: str,
    *,
    get_runtime: Callable[[], HasEngineAndClock | None],
    get_common: Callable[[], CommonSettings],
) -> APIRouter:
    from .runtime import require_token  # runtime imports the settings this module's callers build

    api = APIRouter(
        prefix="/v1", tags=["audit"], dependencies=[require_token(get_common)], responses=error_responses(401, 403, 422)
    )

    @api.get("/audit", responses={503: {"description": "starting"}})
    @admin_route
    async def audit_log(
        actor: str | None = Query(None, max_length=254),
        account_id: str | None = Query(None, max_length=500),
        action: str | None = Query(None, max_length=200, description="part of the action name"),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        runtime = get_runtime()
        if runtime is None:
            raise HTTPException(503, "starting")
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise field_error("query", name, "needs a time zone (e.g. 2026-01-31T00:00:00Z)")
        entries = await read(
            runtime.engine,
            service,
            actor=actor,
            account_id=account_id,
            action=action,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return {"entries": entries, "limit": limit, "offset": offset}

    return api


def install(
    app: FastAPI,
    *,
    service: str,
    get_runtime: Callable[[], HasEngineAndClock | None],
    get_common: Callable[[], CommonSettings],
) -> None:
    """The audit middleware and ``GET /v1/audit`` on a service's app (one line in its main.py)."""
    app.add_middleware(AuditTrail, service=service, get_runtime=get_runtime)
    app.include_router(router(service, get_runtime=get_runtime, get_common=get_common))
