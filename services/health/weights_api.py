"""Learned score weights over HTTP: the scorecards, and per scorecard the hand-set vs learned
comparison (typed) and the proposal YAML. Nothing here changes a weight: adopting a proposal is
a person loading the file.

scikit-learn is imported only when a comparison is asked for (about 2 s and 75 MB), so the
scoring service does not pay for it otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings

from .adapters import queries
from .api import MAX_HORIZON_DAYS, ApiDeps
from .domain.scorecard import Scorecard, ScorecardSet

if TYPE_CHECKING:
    from .learn.fit import Comparison, Side

HORIZONS_HELP = f"comma-separated whole days from 1 to {MAX_HORIZON_DAYS}, e.g. 30,60,90"


class ScorecardOut(BaseModel):
    name: str
    default: bool
    match: dict[str, list[str]]
    measures: list[str]


class ScorecardsOut(BaseModel):
    scorecards: list[ScorecardOut]


class ReliabilityBinOut(BaseModel):
    low: float
    high: float
    count: int
    predicted: float | None  # mean predicted churn probability
    observed: float | None  # share that churned


class SideOut(BaseModel):
    auc: float | None
    brier: float | None
    reliability: list[ReliabilityBinOut]


class HorizonOut(BaseModel):
    days: int
    churned: int
    retained: int
    hand: SideOut
    learned: SideOut


class MeasureWeightOut(BaseModel):
    measure: str
    hand_weight: float
    learned_weight: float | None
    coefficient: float | None  # on P(churn) per unit of the 0..1 measure score; negative = protects
    unsupported: bool  # held at the floor weight: a higher score did not mean less churn


class WeightsComparisonOut(BaseModel):
    scorecard: str
    proposed: bool
    refused: str | None  # why there is no proposal (e.g. too few outcomes)
    churned_accounts: int
    renewed_accounts: int
    rows: int
    folds: int
    measures: list[MeasureWeightOut]
    horizons: list[HorizonOut]


def parse_horizons(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(int(h) for h in raw.split(","))
    except ValueError:
        days = ()
    if not days or not all(1 <= d <= MAX_HORIZON_DAYS for d in days):
        raise field_error("query", "horizons", HORIZONS_HELP)
    return tuple(dict.fromkeys(days))


async def learned_weights(
    engine: AsyncEngine, card: Scorecard, *, horizons: tuple[int, ...], min_per_class: int
) -> Comparison:
    """Read the snapshots, then fit off the event loop (CPU work)."""
    from .learn.dataset import build_dataset
    from .learn.fit import compare_weights

    snapshots = await queries.learning_snapshots(engine, scorecard=card.name, horizons=horizons)
    hand = [m.weight for m in card.measures]

    def fit() -> Comparison:
        import numpy as np

        data = build_dataset(card, snapshots)
        return compare_weights(data, np.array(hand), horizons=horizons, min_per_class=min_per_class)

    return await asyncio.to_thread(fit)


def _side(side: Side) -> SideOut:
    return SideOut(auc=side.auc, brier=side.brier, reliability=[ReliabilityBinOut(**vars(b)) for b in side.bins])


def comparison_view(name: str, cmp: Comparison) -> WeightsComparisonOut:
    learned = cmp.learned_weights or (None,) * len(cmp.measures)
    coefs = cmp.coefficients or (None,) * len(cmp.measures)
    return WeightsComparisonOut(
        scorecard=name,
        proposed=cmp.proposed,
        refused=cmp.refused,
        churned_accounts=cmp.churned_accounts,
        renewed_accounts=cmp.renewed_accounts,
        rows=cmp.rows,
        folds=cmp.folds,
        measures=[
            MeasureWeightOut(
                measure=m, hand_weight=h, learned_weight=lw, coefficient=c, unsupported=m in cmp.unsupported
            )
            for m, h, lw, c in zip(cmp.measures, cmp.hand_weights, learned, coefs, strict=True)
        ],
        horizons=[
            HorizonOut(
                days=h.days, churned=h.churned, retained=h.retained, hand=_side(h.hand), learned=_side(h.learned)
            )
            for h in cmp.horizons
        ],
    )


def weights_router(
    get_deps: Callable[[], ApiDeps], get_common: Callable[[], CommonSettings], *, min_per_class: int
) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["health"],
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        responses=error_responses(401, 422),
    )

    def card_named(name: str) -> tuple[ScorecardSet, Scorecard]:
        cards = get_deps().ctx.scorecards
        card = cards.by_name(name)
        if card is None:
            known = ", ".join(c.name for c in cards.scorecards)
            raise HTTPException(404, f"no scorecard named {name!r} (known: {known})")
        return cards, card

    @router.get("/scorecards")
    async def scorecards() -> ScorecardsOut:
        return ScorecardsOut(
            scorecards=[
                ScorecardOut(name=c.name, default=c.default, match=c.match, measures=[m.name for m in c.measures])
                for c in get_deps().ctx.scorecards.scorecards
            ]
        )

    @router.get("/scorecards/{name}/learned-weights", responses=error_responses(404))
    async def compare(name: str, horizons: str = "30,60,90") -> WeightsComparisonOut:
        days = parse_horizons(horizons)
        _, card = card_named(name)
        cmp = await learned_weights(get_deps().engine, card, horizons=days, min_per_class=min_per_class)
        return comparison_view(name, cmp)

    @router.get(
        "/scorecards/{name}/learned-weights/proposal.yaml",
        response_class=Response,
        responses={
            200: {
                "description": "the scorecards file with this card's learned weights, evidence in its comment header",
                "content": {"application/yaml": {"schema": {"type": "string"}}},
            },
            **error_responses(404, 409),
        },
    )
    async def proposal(name: str, horizons: str = "30,60,90") -> Response:
        from .learn.proposal import proposal_yaml

        days = parse_horizons(horizons)
        cards, card = card_named(name)
        cmp = await learned_weights(get_deps().engine, card, horizons=days, min_per_class=min_per_class)
        if not cmp.proposed:
            raise HTTPException(409, cmp.refused or "no proposal")
        return Response(proposal_yaml(cards, name, cmp), media_type="application/yaml")

    return router
