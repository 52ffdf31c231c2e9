"""Touch's HTTP API (bearer token): playbooks, tiers, enrolments and their history, CSM actions."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field

from touchline.shared import topics
from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.runtime import Runtime, require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.tokens import admin_route
from touchline.shared.unit_of_work import unit_of_work

from .adapters.config import ConfigError, load_playbook
from .adapters.postgres import PgRepository
from .domain.engine import Enrolment
from .domain.manual import HEADER, BadKey, KeyReused, ManualRequest, parse_key
from .domain.playbook import Playbook
from .flows import Flows
from .manual import NotEnrolled, UnknownAccount, enrol_by_hand
from .playbook_view import PlaybookView, playbook_view

# Beyond it an offset is a mistake, and Postgres' bigint ends at 2^63 (a 500, before this bound).
MAX_OFFSET = 2**53


class EnrolRequest(BaseModel):
    playbook: str = Field(description="name of the playbook to start")
    by: str = Field("csm", description="who enrols the account (kept in the step history)")


class ActionRequest(BaseModel):
    by: str = Field("csm", description="who acts (kept in the step history)")


def playbook_summary(p: Playbook) -> dict[str, Any]:
    return playbook_view(p).model_dump(mode="json")


def enrolment_view(e: Enrolment, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view = asdict(e)
    view["anchors"] = {k: v.isoformat() for k, v in e.anchors.items()}
    view["seen"] = {k: v.isoformat() for k, v in e.seen.items()}
    if history is not None:
        view["history"] = history
    return view


def router(
    *, get_runtime: Callable[[], Runtime], get_flows: Callable[[], Flows], get_common: Callable[[], CommonSettings]
) -> APIRouter:
    api = APIRouter(
        prefix="/v1",
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        tags=["touch"],
        responses=error_responses(401, 403, 422),
    )

    @api.get("/playbooks")
    async def list_playbooks() -> list[PlaybookView]:
        return [playbook_view(p) for p in get_flows().config.playbooks.values()]

    @api.post("/playbooks/validate")
    @admin_route
    async def validate(body: str = Body(..., media_type="application/yaml")) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "playbook.yaml"
            path.write_text(body, encoding="utf-8")
            try:
                playbook = load_playbook(path)
            except ConfigError as exc:
                return {"valid": False, "problems": [p.replace(str(path), "body") for p in exc.problems]}
        return {"valid": True, "problems": [], "playbook": playbook_summary(playbook)}

    @api.get("/accounts")
    async def accounts(
        tier: Literal["high", "low", "tech"] | None = None,
        phase: Literal["onboarding", "adoption", "retention", "renewal", "churned"] | None = None,
        owner: str | None = None,
        q: str | None = Query(None, description="part of the account id or name"),
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> dict[str, Any]:
        async with get_runtime().engine.connect() as conn:
            found = await PgRepository(conn).list_accounts(
                tier=tier, phase=phase, owner=owner, search=q, limit=limit, offset=offset
            )
        return {"accounts": found, "limit": limit, "offset": offset}

    @api.get("/accounts/{account_id}", responses=error_responses(404))
    async def account(account_id: str) -> dict[str, Any]:
        async with get_runtime().engine.connect() as conn:
            repo = PgRepository(conn)
            profile = await repo.get_profile(account_id)
            if profile is None:
                raise HTTPException(404, f"account {account_id!r}: unknown to touch (no event seen for it)")
            stored = await repo.get_tier(account_id)
            return {**asdict(profile), "tier": asdict(stored) if stored else None}

    @api.get("/accounts/{account_id}/tier", responses=error_responses(404))
    async def tier(account_id: str) -> dict[str, Any]:
        async with get_runtime().engine.connect() as conn:
            repo = PgRepository(conn)
            stored = await repo.get_tier(account_id)
            if stored is None:
                raise HTTPException(404, f"account {account_id!r}: no tier yet (no event seen for it)")
            return {"account_id": account_id, **asdict(stored), "history": await repo.tier_history(account_id)}

    @api.get("/accounts/{account_id}/enrolments")
    async def enrolments(account_id: str) -> list[dict[str, Any]]:
        async with get_runtime().engine.connect() as conn:
            repo = PgRepository(conn)
            return [enrolment_view(e, await repo.history(e.id)) for e in await repo.enrolments(account_id)]

    @api.get("/enrolments/{enrolment_id}", responses=error_responses(404))
    async def enrolment(enrolment_id: str) -> dict[str, Any]:
        async with get_runtime().engine.connect() as conn:
            repo = PgRepository(conn)
            e = await repo.get_enrolment(enrolment_id)
            if e is None:
                raise HTTPException(404, f"enrolment {enrolment_id!r} not found")
            return enrolment_view(e, await repo.history(e.id))

    @api.post("/enrolments/{enrolment_id}/{action}", responses=error_responses(400, 404, 409))
    async def act(
        enrolment_id: str, action: Literal["pause", "resume", "cancel"], request: ActionRequest | None = None
    ) -> dict[str, Any]:
        runtime = get_runtime()
        by = request.by if request else "csm"
        async with runtime.engine.begin() as conn:
            repo = PgRepository(conn)
            found = await repo.get_enrolment(enrolment_id)
            if found is None:
                raise HTTPException(404, f"enrolment {enrolment_id!r} not found")
            await repo.lock_account(found.account_id)
            current = await repo.get_enrolment(enrolment_id)
            assert current is not None
            try:
                updated = await get_flows().set_status(repo, current, action, now=runtime.clock.now(), by=by)
            except ValueError as exc:
                raise HTTPException(409, str(exc)) from exc
            return enrolment_view(updated, await repo.history(enrolment_id))

    @api.post(
        "/accounts/{account_id}/enrolments",
        status_code=201,
        responses={200: {"description": "a retry with the same Idempotency-Key: the enrolment it created"}}
        | error_responses(400, 404, 409),
    )
    async def enrol(
        account_id: str,
        request: EnrolRequest,
        response: Response,
        idempotency_key: str | None = Header(
            None,
            alias=HEADER,
            description="makes a retry safe: the same key returns the enrolment it created (200), nothing sent again",
        ),
    ) -> dict[str, Any]:
        runtime, flows = get_runtime(), get_flows()
        try:
            key = parse_key(idempotency_key) if idempotency_key is not None else None
        except BadKey as exc:
            raise HTTPException(400, str(exc)) from exc
        playbook = flows.config.playbooks.get(request.playbook)
        if playbook is None:
            known = ", ".join(flows.config.playbooks)
            raise field_error("body", "playbook", f"unknown playbook {request.playbook!r} (known: {known})")
        wanted = ManualRequest(account_id, playbook.name, request.by)
        now = runtime.clock.now()
        # Should the commit fail after the publish, a retry with the same key publishes the same
        # command ids again and notify drops the copies (shared/unit_of_work.py).
        async with unit_of_work(runtime.engine, runtime.publisher) as uow:
            repo = PgRepository(uow.conn)
            try:
                done = await enrol_by_hand(
                    flows, repo, playbook, request=wanted, key=key, now=now, nonce=uuid.uuid4().hex
                )
            except UnknownAccount as exc:
                raise HTTPException(404, str(exc)) from exc
            except NotEnrolled as exc:
                raise HTTPException(409, str(exc)) from exc
            except KeyReused as exc:
                raise field_error("header", HEADER, str(exc)) from exc
            if done.replayed:
                response.status_code = 200
                response.headers["Idempotent-Replayed"] = "true"
            uow.emit(topics.COMMANDS, done.commands)
            return enrolment_view(done.enrolment, await repo.history(done.enrolment.id))

    return api
