"""GET /v1/playbooks/{name}/effectiveness: a playbook's enrolled runs against its holdout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from touchline.shared.api_errors import error_responses, refuse_nul
from touchline.shared.runtime import Runtime, require_token
from touchline.shared.settings import CommonSettings

from .adapters.postgres import PgRepository
from .domain.effectiveness import Report, effectiveness
from .domain.playbook import Playbook
from .flows import Flows

Verdict = Literal["too_few", "better", "worse", "no_difference"]


class IntervalView(BaseModel):
    low: float
    high: float


class GroupRateView(BaseModel):
    n: int = Field(description="runs in the group (for band_improved: those with a band before the start)")
    count: int = Field(description="runs with the outcome")
    rate: float | None
    interval: IntervalView | None = Field(description="Wilson 95 % interval of the rate")


class RateComparisonView(BaseModel):
    outcome: Literal["renewed", "churned", "usage_recovered", "band_improved"]
    enrolled: GroupRateView
    held_out: GroupRateView
    difference: float | None = Field(description="enrolled rate minus held-out rate")
    interval: IntervalView | None = Field(description="Newcombe 95 % interval of the difference")
    verdict: Verdict
    summary: str


class MeanComparisonView(BaseModel):
    outcome: Literal["nps_change"]
    enrolled_n: int
    enrolled_mean: float | None
    held_out_n: int
    held_out_mean: float | None
    difference: float | None
    interval: IntervalView | None = Field(description="95 % interval of the difference (Welch standard error)")
    verdict: Verdict
    summary: str


class FunnelStepView(BaseModel):
    step: str
    kind: Literal["send", "task"]
    sent: int = Field(description="commands issued (mails and popups sent, or tasks opened)")
    opened: int = Field(description="opened by a person (machine opens excluded)")
    clicked: int
    answered: int
    completed: int = Field(description="tasks completed")


class VariantReportView(BaseModel):
    variant: str
    holdout: float | Literal["never"] = Field(description="the variant's holdout share now")
    enrolled: int
    held_out: int
    usage_per_day_enrolled: float | None = Field(description="mean usage events per day in the 14 days before start")
    usage_per_day_held_out: float | None
    rates: list[RateComparisonView]
    nps_change: MeanComparisonView
    funnel: list[FunnelStepView]


class EffectivenessView(BaseModel):
    playbook: str
    days: int = Field(description="days after each run's start its outcomes are looked for")
    min_accounts: int = Field(description="fewest runs per group before a comparison is made")
    not_compared: int = Field(description="runs never subject to the holdout (enrolled by hand, high touch)")
    generated_at: datetime
    variants: list[VariantReportView]


def report_view(report: Report, playbook: Playbook, *, default: float, now: datetime) -> EffectivenessView:
    data = asdict(report)
    for section in data["variants"]:
        variant = section["variant"]
        section["holdout"] = playbook.holdout_share(variant if variant != "all" else "default", default=default)
    return EffectivenessView.model_validate({**data, "generated_at": now})


def router(
    *, get_runtime: Callable[[], Runtime], get_flows: Callable[[], Flows], get_common: Callable[[], CommonSettings]
) -> APIRouter:
    api = APIRouter(
        prefix="/v1",
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        tags=["touch"],
        responses=error_responses(401, 422),
    )

    @api.get("/playbooks/{name}/effectiveness", responses=error_responses(404))
    async def playbook_effectiveness(
        name: str,
        days: int | None = Query(None, ge=1, le=730, description="days after a run's start (default: the setting)"),
    ) -> EffectivenessView:
        config = get_flows().config
        playbook = config.playbooks.get(name)
        if playbook is None:
            known = ", ".join(sorted(config.playbooks))
            raise HTTPException(404, f"playbook {name!r}: unknown (known: {known})")
        runtime = get_runtime()
        async with runtime.engine.connect() as conn:
            inputs = await PgRepository(conn).effectiveness_inputs(name)
        now = runtime.clock.now()
        report = effectiveness(
            playbook,
            inputs,
            days=days or config.effectiveness_days,
            now=now,
            min_accounts=config.effectiveness_min_accounts,
        )
        return report_view(report, playbook, default=config.holdout_default, now=now)

    return api
