"""Composition root of health: settings -> scorecards -> runtime, consumer, decay loop, API.
Nothing happens at import time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException

from touchline.shared import audit, logs
from touchline.shared.db import make_engine
from touchline.shared.metrics import HttpMetrics
from touchline.shared.runtime import Runtime, ops_router, serve, start_runtime, stop_runtime, tune_gc
from touchline.shared.settings import CommonSettings
from touchline.shared.tracing import Tracing

from . import validation
from .adapters import queries
from .adapters.scorecard_file import ScorecardFileError, load_scorecards
from .api import ApiDeps, health_router
from .consumer import DecayStatus, run_decay_loop, start_health_consumers
from .domain.account import Policy
from .domain.trust import trust_report
from .handlers import HealthContext
from .settings import HealthSettings
from .usage_api import usage_router
from .weights_api import HORIZONS_HELP, learned_weights, parse_horizons, weights_router


def policy_of(settings: HealthSettings) -> Policy:
    return Policy(
        material_change=settings.material_change,
        decline_threshold=settings.decline_threshold,
        aging_horizon_days=settings.aging_horizon_days,
    )


def build_app(common: CommonSettings, settings: HealthSettings, *, tracing: Tracing | None = None) -> FastAPI:
    """``tracing``: the service's tracer (tests); by default the one the settings configure."""
    # Validated now, so a bad scorecard file stops start-up with file, line and field.
    scorecards = load_scorecards(settings.scorecards_path)
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime("health", common, engine_pool=4 + settings.consumers, tracing=tracing)
        ctx = HealthContext(scorecards=scorecards, policy=policy_of(settings), clock=runtime.clock)
        status = DecayStatus()
        holder.update(runtime=runtime, deps=ApiDeps(engine=runtime.engine, ctx=ctx, publisher=runtime.publisher))
        app.state.runtime = runtime
        app.state.decay = status
        app.state.runners = start_health_consumers(
            runtime,
            ctx=ctx,
            max_batch=settings.max_batch,
            consumers=settings.consumers,
            cached_accounts=settings.cached_accounts,
        )
        runtime.spawn(
            "decay",
            run_decay_loop(
                runtime, ctx=ctx, batch=settings.decay_batch, interval_s=settings.decay_interval_s, status=status
            ),
        )
        try:
            yield
        finally:
            await stop_runtime(runtime)

    app = FastAPI(title="Touchline health", lifespan=lifespan)
    app.add_middleware(HttpMetrics, service="health")

    def runtime() -> Runtime | None:
        return holder.get("runtime")

    def deps() -> ApiDeps:
        return holder["deps"]  # type: ignore[no-any-return]

    app.include_router(ops_router(runtime))
    app.include_router(health_router(deps, lambda: common))
    app.include_router(weights_router(deps, lambda: common, min_per_class=settings.learn_min_outcomes))
    app.include_router(usage_router(deps, lambda: common))
    app.include_router(validation.router(lambda: common))
    audit.install(app, service="health", get_runtime=runtime, get_common=lambda: common)
    return app


async def trust_rows(common: CommonSettings, horizons: tuple[int, ...]) -> list[dict[str, Any]]:
    engine = make_engine(common.database_url, pool_size=1)
    try:
        outcomes, hist = await queries.trust_inputs(engine)
    finally:
        await engine.dispose()
    return [vars(r) | {"outcomes": len(outcomes)} for r in trust_report(outcomes, hist, horizons=horizons)]


def _trust_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="touchline health trust", description="how well past scores predicted churn (AUC)"
    )
    parser.add_argument("--horizons", default="30,60,90", help="days before each outcome, comma separated")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        horizons = tuple(int(h) for h in args.horizons.split(","))
    except ValueError:
        parser.error("--horizons: comma-separated whole days, e.g. 30,60,90")
    rows = asyncio.run(trust_rows(CommonSettings(), horizons))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("days before outcome | AUC   | churned | retained | no score then")
    for r in rows:
        auc = "n/a  " if r["auc"] is None else f"{r['auc']:.3f}"
        print(f"{r['days']:>19} | {auc} | {r['churned']:>7} | {r['retained']:>8} | {r['unscored']:>13}")
    print("AUC: chance a renewed account scored above a cancelled one (0.5 = coin toss, 1.0 = perfect).")
    return 0


async def propose_weights(argv: list[str], *, common: CommonSettings, settings: HealthSettings) -> int:
    """``touchline health propose-weights``: prints the comparison, writes the proposal with --out."""
    parser = argparse.ArgumentParser(
        prog="touchline health propose-weights",
        description="learn a scorecard's measure weights from churn/renewal outcomes and compare them with the "
        "hand-set ones; writes a proposal to review, never changes the weights in use",
    )
    parser.add_argument("--scorecard", required=True, help="scorecard name (see the scorecards file)")
    parser.add_argument("--out", type=Path, help="write the proposed scorecards YAML here (only when there is one)")
    parser.add_argument("--horizons", default="30,60,90", help="days before each outcome, comma separated")
    parser.add_argument(
        "--min-outcomes",
        type=int,
        default=settings.learn_min_outcomes,
        help="churned and renewed accounts needed (each)",
    )
    args = parser.parse_args(argv)
    try:
        horizons = parse_horizons(args.horizons)
    except HTTPException:
        parser.error(f"--horizons: {HORIZONS_HELP}")
    if args.min_outcomes < 2:
        parser.error("--min-outcomes: at least 2")
    try:
        cards = load_scorecards(settings.scorecards_path)
    except ScorecardFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    card = cards.by_name(args.scorecard)
    if card is None:
        known = ", ".join(c.name for c in cards.scorecards)
        print(f"no scorecard named {args.scorecard!r} (known: {known})", file=sys.stderr)
        return 1
    engine = make_engine(common.database_url, pool_size=1)
    try:
        cmp = await learned_weights(engine, card, horizons=horizons, min_per_class=args.min_outcomes)
    finally:
        await engine.dispose()
    if cmp.refused:
        print(f"no proposal for {args.scorecard!r}: {cmp.refused}", file=sys.stderr)
        return 1
    from .learn.proposal import evidence, proposal_yaml

    print("\n".join(evidence(args.scorecard, cmp)))
    if args.out:
        args.out.write_text(proposal_yaml(cards, args.scorecard, cmp), encoding="utf-8")
        print(f"\nwrote {args.out}; nothing changes until someone adopts it.")
    return 0


def _validate_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline health validate", description="check a scorecards file")
    parser.add_argument("path", nargs="?", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        cards = load_scorecards(args.path)
    except ScorecardFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok: {', '.join(c.name for c in cards.scorecards)}")
    return 0


def cli(argv: list[str]) -> int:
    """``touchline health`` runs the service; ``health trust`` / ``validate FILE`` / ``propose-weights`` are tools."""
    if argv and argv[0] == "trust":
        return _trust_cli(argv[1:])
    if argv and argv[0] == "validate":
        return _validate_cli(argv[1:])
    if argv and argv[0] == "propose-weights":
        return asyncio.run(propose_weights(argv[1:], common=CommonSettings(), settings=HealthSettings()))
    if argv:
        print(
            "usage: touchline health [trust [--horizons 30,60,90] [--json] | validate [FILE]"
            " | propose-weights --scorecard NAME [--out FILE]]",
            file=sys.stderr,
        )
        return 2
    common = CommonSettings()
    settings = HealthSettings()
    logs.configure("health", common.log_level)
    try:
        app = build_app(common, settings)
    except ScorecardFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    tune_gc()
    serve(app, host=settings.host, port=settings.port)
    return 0
