"""Composition root of the touch service: config, runtime, consumer, timer loop, API; and the CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

import yaml
from fastapi import FastAPI

from touchline.shared import audit
from touchline.shared.logs import configure as configure_logging
from touchline.shared.metrics import HttpMetrics
from touchline.shared.runtime import Runtime, ops_router, serve, start_runtime, stop_runtime
from touchline.shared.settings import CommonSettings
from touchline.shared.tracing import Tracing

from . import consumer
from .adapters.config import ConfigError, load_playbook, load_playbooks, load_tiers
from .api import router
from .domain.activity import UsageRules
from .domain.engine import MessageCap
from .domain.signals import SignalThresholds
from .effectiveness_api import router as effectiveness_router
from .effectiveness_cli import effectiveness_cli
from .flows import Flows, TouchConfig
from .newsletters_api import router as newsletters_router
from .portfolio_api import router as portfolio_router
from .settings import TouchSettings
from .timers import TimerLoop, timers_due
from .webinars_api import router as webinars_router

SERVICE = "touch"


def load_config(settings: TouchSettings) -> TouchConfig:
    """Tiers and playbooks from their files; raises ConfigError naming every problem."""
    problems: list[str] = []
    rules = playbooks = None
    try:
        rules = load_tiers(settings.tiers_path())
    except ConfigError as exc:
        problems += exc.problems
    try:
        playbooks = load_playbooks(settings.playbooks_path())
    except ConfigError as exc:
        problems += exc.problems
    if problems or rules is None or playbooks is None:
        raise ConfigError(problems)
    cap = MessageCap(settings.message_cap, timedelta(days=settings.message_cap_days)) if settings.message_cap else None
    thresholds = SignalThresholds(
        decline=settings.usage_decline_threshold,
        recovered=settings.usage_recovered_threshold,
        inactive_days=settings.inactive_days,
    )
    usage = UsageRules(
        recent_days=settings.recovery_days,
        baseline_days=settings.recovery_baseline_days,
        skip_days=settings.recovery_skip_days,
        recovery_ratio=settings.recovery_ratio,
        daily_use_days=settings.daily_use_login_days,
        daily_use_window=settings.daily_use_window_days,
    )
    return TouchConfig(
        rules=rules,
        playbooks=playbooks,
        cap=cap,
        thresholds=thresholds,
        usage=usage,
        holdout_default=settings.holdout_default,
        effectiveness_days=settings.effectiveness_days,
        effectiveness_min_accounts=settings.effectiveness_min_accounts,
        crm_webhooks=settings.crm_webhooks,
    )


def build_app(common: CommonSettings, settings: TouchSettings, *, tracing: Tracing | None = None) -> FastAPI:
    """``tracing``: the service's tracer (tests); by default the one the settings configure."""
    config = load_config(settings)  # fail at start-up, before serving anything
    flows = Flows(config)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(SERVICE, common, tracing=tracing)
        state["runtime"] = runtime
        consumer.start(runtime, flows)
        loop = TimerLoop(
            engine=runtime.engine,
            flows=flows,
            clock=runtime.clock,
            publisher=runtime.publisher,
            poll_seconds=settings.timer_poll_seconds,
        )
        state["timers"] = loop
        flows.on_due = loop.nudge  # a batch that leaves a timer due wakes the loop, not its next poll
        runtime.spawn("touch-timers", loop.run(runtime.stop))
        runtime.pending = partial(timers_due, runtime)
        try:
            yield
        finally:
            await stop_runtime(runtime)

    def get_runtime() -> Runtime:
        runtime = state.get("runtime")
        assert isinstance(runtime, Runtime), "touch is starting"
        return runtime

    app = FastAPI(title="Touchline touch", lifespan=lifespan)
    app.add_middleware(HttpMetrics, service="touch")
    app.state.touch = state
    app.state.flows = flows
    app.include_router(ops_router(lambda: state.get("runtime")))  # type: ignore[arg-type, return-value]
    app.include_router(router(get_runtime=get_runtime, get_flows=lambda: flows, get_common=lambda: common))
    app.include_router(
        effectiveness_router(get_runtime=get_runtime, get_flows=lambda: flows, get_common=lambda: common)
    )
    app.include_router(portfolio_router(get_runtime=get_runtime, get_common=lambda: common))
    app.include_router(webinars_router(get_runtime=get_runtime, get_common=lambda: common))
    app.include_router(newsletters_router(get_runtime=get_runtime, get_flows=lambda: flows, get_common=lambda: common))
    audit.install(app, service=SERVICE, get_runtime=lambda: state.get("runtime"), get_common=lambda: common)  # type: ignore[arg-type, return-value]
    return app


def validate_files(paths: list[str]) -> int:
    """`touchline touch validate FILE...`: playbook files, or a tiers file (one with `rules`)."""
    failed = False
    for name in paths:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
            is_tiers = isinstance(doc := yaml.safe_load(text), dict) and "rules" in doc
        except (OSError, yaml.YAMLError):
            is_tiers = False
        try:
            if is_tiers:
                rules = load_tiers(path)
                print(f"{path}: ok (tiers: {len(rules.rules)} rules)")
            else:
                playbook = load_playbook(path)
                print(f"{path}: ok (playbook {playbook.name}: variants {', '.join(playbook.variants)})")
        except ConfigError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
    return 1 if failed else 0


def cli(argv: list[str]) -> int:
    if argv and argv[0] == "effectiveness":
        return effectiveness_cli(argv[1:], load=load_config)
    if argv and argv[0] == "validate":
        parser = argparse.ArgumentParser(prog="touchline touch validate", description="validate playbook or tier files")
        parser.add_argument("files", nargs="+", metavar="FILE")
        return validate_files(parser.parse_args(argv[1:]).files)
    if argv:
        print(
            f"touchline touch: unknown arguments {argv!r} (run without arguments, or: validate FILE..., effectiveness PLAYBOOK)",
            file=sys.stderr,
        )
        return 2
    common = CommonSettings()
    settings = TouchSettings()
    configure_logging(SERVICE, common.log_level)
    try:
        app = build_app(common, settings)
    except ConfigError as exc:
        print("touch: invalid configuration:\n" + str(exc), file=sys.stderr)
        return 1
    serve(app, host=settings.host, port=settings.port)
    return 0
