"""The health read/override API (FastAPI, bearer token): accounts, one account, history, overrides, trust."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared import audit, topics
from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.kafka import KafkaPublisher
from touchline.shared.messages import Band
from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.unit_of_work import unit_of_work

from .adapters import queries
from .adapters.postgres import PostgresHealthRepository
from .domain.account import Published
from .domain.explain import explain_measures
from .domain.overrides import Override, OverrideError
from .domain.scorecard import ScorecardSet
from .domain.scoring import MeasureResult, band_of
from .domain.trust import trust_report
from .handlers import AccountNotFound, HealthContext, change_override

# Beyond it an offset is a mistake, and Postgres' bigint ends at 2^63 (a 500, before this bound).
MAX_OFFSET = 2**53
MAX_EXPIRY_DAYS = 36_500  # an override for a century is as good as permanent
MAX_HORIZON_DAYS = 3650


@dataclass
class ApiDeps:
    engine: AsyncEngine
    ctx: HealthContext
    publisher: KafkaPublisher


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["score", "band", "measure"]
    reason: str = Field(min_length=1)
    score: float | None = None
    band: str | None = None
    measure: str | None = None
    expires_at: datetime | None = None
    expires_in_days: float | None = Field(None, gt=0, le=MAX_EXPIRY_DAYS)
    set_by: str = "api"

    @model_validator(mode="after")
    def _has_expiry(self) -> OverrideIn:
        if (self.expires_at is None) == (self.expires_in_days is None):
            raise ValueError("give exactly one of expires_at or expires_in_days")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            self.expires_at = self.expires_at.replace(tzinfo=UTC)  # a time without offset is UTC
        return self


def expand_measures(
    scorecards: ScorecardSet, scorecard: str, compact: list[list[Any]], pinned: set[str]
) -> list[MeasureResult]:
    """Stored [measure, value, score, weight, contribution] rows, with labels, groups and
    bands from the scorecard (a measure no longer in it keeps its name as label)."""
    card = scorecards.by_name(scorecard)
    known = {m.name: m for m in card.compiled} if card else {}
    out = []
    for name, value, score, weight, contribution in compact:
        m = known.get(name)
        out.append(
            MeasureResult(
                name=name,
                group=m.group if m else "other",
                label=m.label if m else name,
                aggregate=m.aggregate if m else "",
                value=value,
                score=score,
                configured_weight=m.weight if m else 0.0,
                weight=weight,
                contribution=contribution,
                missing=score is None,
                band=None if score is None or m is None else band_of(score, m.bands),
                pinned=name in pinned,
            )
        )
    return out


def measure_view(m: MeasureResult) -> dict[str, Any]:
    return {
        "measure": m.name,
        "group": m.group,
        "label": m.label,
        "value": m.value,
        "score": m.score,
        "band": m.band,
        "weight": m.weight,
        "configured_weight": m.configured_weight,
        "contribution": m.contribution,
        "missing": m.missing,
        "pinned": m.pinned,
    }


def account_view(row: dict[str, Any], *, scorecards: ScorecardSet, now: datetime) -> dict[str, Any]:
    overrides = [Override.from_dict(o) for o in row.pop("overrides") if datetime.fromisoformat(o["expires_at"]) > now]
    pinned = {o.measure for o in overrides if o.kind == "measure" and o.measure}
    measures = expand_measures(scorecards, row["scorecard"], row["measures"], pinned)
    published = Published.from_dict(row.pop("published", None))
    explanation = explain_measures(
        measures,
        overrides=overrides if row["overridden"] else [],
        previous=published.contributions if published else None,
    )
    return row | {
        "measures": [measure_view(m) for m in measures],
        "overrides": [o.to_dict() for o in overrides],
        "explanation": explanation,
    }


def _field_error(field: str, message: str) -> JSONResponse:
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def health_router(get_deps: Callable[[], ApiDeps], get_common: Callable[[], CommonSettings]) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["health"],
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        responses=error_responses(401, 403, 422),
    )

    @router.get("/accounts")
    async def list_accounts(
        band: list[Band] | None = Query(None),  # noqa: B008
        tier: str | None = None,
        plan: str | None = None,
        min_score: float | None = Query(None, ge=0, le=100),
        max_score: float | None = Query(None, ge=0, le=100),
        sort: Literal[tuple(queries.SORTS)] = "band",  # type: ignore[valid-type]
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> dict[str, Any]:
        rows = await queries.list_accounts(
            get_deps().engine,
            bands=list(band) if band else None,
            tier=tier,
            plan=plan,
            min_score=min_score,
            max_score=max_score,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return {"accounts": rows, "limit": limit, "offset": offset}

    @router.get("/accounts/{account_id}", responses=error_responses(404))
    async def get_account(account_id: str) -> dict[str, Any]:
        row = await queries.get_account(get_deps().engine, account_id)
        if row is None:
            raise HTTPException(404, f"account {account_id!r} has no health score")
        ctx = get_deps().ctx
        return account_view(row, scorecards=ctx.scorecards, now=ctx.clock.now())

    @router.get("/accounts/{account_id}/history")
    async def get_history(
        account_id: str, since: datetime | None = None, limit: int = Query(500, ge=1, le=5000)
    ) -> dict[str, Any]:
        rows = await queries.history(get_deps().engine, account_id, since=since, limit=limit)
        cards = get_deps().ctx.scorecards
        for row in rows:
            row["measures"] = [
                measure_view(m) for m in expand_measures(cards, row["scorecard"], row["measures"], set())
            ]
        return {"account_id": account_id, "history": rows}

    @router.put("/accounts/{account_id}/overrides", responses=error_responses(400, 404))
    async def set_override(account_id: str, body: OverrideIn, http: Request) -> Any:
        deps = get_deps()
        expires_at = body.expires_at or deps.ctx.clock.now() + timedelta(days=body.expires_in_days or 0)
        request = body.model_dump(exclude={"expires_in_days", "set_by"}) | {"expires_at": expires_at}
        return await _audited_override(http, deps, account_id, set_by=body.set_by, request=request)

    @router.delete("/accounts/{account_id}/overrides/{kind}", responses=error_responses(404))
    async def clear_override(
        account_id: str, http: Request, kind: Literal["score", "band", "measure"], measure: str | None = None
    ) -> Any:
        if kind == "measure" and not measure:
            raise field_error("query", "measure", "required to clear a pinned measure")
        return await _audited_override(http, get_deps(), account_id, set_by="api", request=None, clear=(kind, measure))

    @router.get("/trust")
    async def trust(horizons: str = "30,60,90") -> dict[str, Any]:
        try:
            days = tuple(int(h) for h in horizons.split(","))
        except ValueError:
            days = ()
        if not days or not all(1 <= d <= MAX_HORIZON_DAYS for d in days):
            raise field_error(
                "query", "horizons", f"comma-separated whole days from 1 to {MAX_HORIZON_DAYS}, e.g. 30,60,90"
            )
        outcomes, hist = await queries.trust_inputs(get_deps().engine)
        return {"outcomes": len(outcomes), "horizons": [vars(r) for r in trust_report(outcomes, hist, horizons=days)]}

    return router


async def _audited_override(
    http: Request,
    deps: ApiDeps,
    account_id: str,
    *,
    set_by: str,
    request: dict[str, Any] | None,
    clear: tuple[str, str | None] | None = None,
) -> Any:
    """_override, with the account's score, band and overrides before and after in its audit entry
    (before: read just ahead of the change's own transaction)."""
    row = await queries.get_account(deps.engine, account_id)
    before = _override_state(row) if row is not None else None
    answer = await _override(deps, account_id, set_by=set_by, request=request, clear=clear)
    after = _override_state(answer) if isinstance(answer, dict) else None
    audit.note(http, before=before, after=after, account_id=account_id)
    return answer


def _override_state(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("score", "band", "overrides")}


async def _override(
    deps: ApiDeps,
    account_id: str,
    *,
    set_by: str,
    request: dict[str, Any] | None,
    clear: tuple[str, str | None] | None = None,
) -> Any:
    try:
        async with unit_of_work(deps.engine, deps.publisher) as uow:
            scored, outgoing = await change_override(
                account_id,
                repo=PostgresHealthRepository(uow.conn),
                ctx=deps.ctx,
                set_by=set_by,
                request=request,
                clear=clear,
            )
            uow.emit(topics.HEALTH, [m for _, m in outgoing])
    except AccountNotFound:
        raise HTTPException(404, f"account {account_id!r} has no health score") from None
    except OverrideError as exc:
        return _field_error(exc.field, str(exc))
    res = scored.rescored.result
    return {
        "account_id": account_id,
        "score": res.score,
        "computed_score": res.computed,
        "band": res.band,
        "overridden": res.overridden,
        "overrides": [o.to_dict() for o in scored.rescored.overrides],
        "explanation": scored.rescored.explanation,
    }
