"""Composition root of notify: settings -> adapters -> consumer, loops and HTTP app. Nothing at import time."""

from __future__ import annotations

import argparse
import asyncio
import html
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from touchline.shared import audit
from touchline.shared.logs import configure as configure_logging
from touchline.shared.metrics import HttpMetrics
from touchline.shared.runtime import (
    Runtime,
    ops_router,
    require_token,
    serve,
    start_runtime,
    stop_runtime,
    until_started,
)
from touchline.shared.settings import CommonSettings, refuse_dev_secrets
from touchline.shared.themes import JanomeTokenizer, load_catalogue
from touchline.shared.tracing import Tracing

from . import backlog, consumer
from .adapters import pg_inapp, pg_tasks, pg_wake
from .adapters.pg_listen import PgListener, listen_dsn
from .adapters.pg_repository import PgRepository
from .adapters.smtp import SmtpMailer
from .adapters.webhooks import HttpxPoster
from .api import (
    activities,
    answers,
    inapp,
    mail_answers,
    milestones,
    subscriptions,
    tasks,
    tracking,
    unsubscribe,
    webinars,
)
from .api.cors import InappCORS
from .compose import Composer
from .delivery import Loops, wall_now
from .domain.tokens import user_token
from .handlers import Deps, expire_parked
from .inbox import PgInbox
from .ports import Mailer, WebhookPoster
from .routing import Router
from .settings import NotifySettings
from .state import NotifyState
from .streams import StreamHub, StreamWatcher
from .task_handlers import TaskDeps
from .templates import SAMPLE_CONTEXT, Catalog, sample_links

STATIC = Path(__file__).with_name("static")


def _mailer(settings: NotifySettings) -> Mailer:
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        tls=settings.smtp_tls,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value(),
        timeout=settings.smtp_timeout_seconds,
    )


async def _register_endpoints(runtime: Runtime, settings: NotifySettings) -> None:
    """Upsert (never delete) this configuration's endpoints: other instances may still use theirs."""
    async with runtime.engine.begin() as conn:
        for e in settings.endpoints():
            await pg_tasks.ensure_endpoint(
                conn, endpoint_id=e.id, url=e.url, kind=e.kind, secret=e.secret, now=wall_now()
            )


def _start_streams(runtime: Runtime, settings: NotifySettings, hub: StreamHub, loops: Loops) -> StreamWatcher:
    """One watcher per process for all its in-app streams (see streams.py)."""
    watcher = StreamWatcher(
        hub=hub,
        source=PgInbox(
            engine=runtime.engine,
            now=runtime.clock.now,
            cap_count=settings.inapp_cap_count,
            cap_window=timedelta(hours=settings.inapp_cap_hours),
            shown=lambda: loops.poke("outcomes"),
        ),
        clock=runtime.clock,
        poll_seconds=settings.poll_seconds,
        sweep_seconds=settings.inapp_stream_sweep_seconds,
    )
    runtime.spawn("inapp-streams", watcher.run(runtime.stop))
    runtime.spawn("inapp-tick", watcher.tick(runtime.stop))
    if settings.inapp_stream_listen:
        listener = PgListener(listen_dsn(runtime.common.database_url), channel=pg_inapp.CHANNEL)
        runtime.spawn("inapp-listen", watcher.listen(listener, runtime.stop))
    return watcher


def refuse_any_origin(settings: NotifySettings, *, env: str) -> None:
    """In prod the in-app API answers the product's origins, listed; '*' is a dev convenience.

    An empty list is allowed everywhere: a deployment without the widget, or one that serves notify
    under the product's own origin (a reverse proxy), needs no cross-origin caller.
    """
    if env == "prod" and settings.allowed_origins.any:
        raise ValueError(
            "inapp_allowed_origins: '*' is not allowed when env=prod; list the origins of the product's "
            "front end (e.g. https://app.example.com,https://*.example.com)"
        )


def refuse_placeholders(settings: NotifySettings, *, env: str) -> None:
    """In prod, mails name the operator's product and link to its real help pages, never the defaults."""
    found = settings.placeholders()
    if env == "prod" and found:
        raise ValueError(
            f"{', '.join(found)}: a dev default or example/test value is not allowed when env=prod; set "
            "TOUCHLINE_NOTIFY_PRODUCT_NAME, _MAIL_FROM, _HELP_URL, _SUPPORT_URL and _SUPPORT_PHONE to your product's"
        )


def build_app(
    common: CommonSettings,
    settings: NotifySettings,
    *,
    mailer: Mailer | None = None,
    poster: WebhookPoster | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    refuse_dev_secrets(settings, env=common.env)
    refuse_any_origin(settings, env=common.env)
    refuse_placeholders(settings, env=common.env)
    catalog = Catalog.load(settings.templates)  # fail at start-up, naming the file, not at the first send
    themes = load_catalogue()
    holder: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime("notify", common, tracing=tracing)
        holder["runtime"] = runtime
        http_poster = poster or HttpxPoster()
        composer = Composer(
            catalog=catalog,
            public_url=settings.public_url,
            link_secret=settings.link_secret.get_secret_value(),
            mail_from=settings.mail_from,
            default_locale=settings.default_locale,
            brand=settings.brand,
        )
        task_deps = TaskDeps(
            composer=composer,
            pools=settings.task_pools,
            now=runtime.clock.now,
            endpoints=[e.id for e in settings.endpoints()],
        )
        deps = Deps(
            composer=composer,
            tasks=task_deps,
            inapp_expiry=timedelta(days=settings.inapp_expiry_days),
            now=runtime.clock.now,
            recipient_wait=timedelta(hours=settings.recipient_wait_hours),
        )
        loops = Loops(
            engine=runtime.engine,
            mailer=mailer or _mailer(settings),
            poster=http_poster,
            publisher=runtime.publisher,
            clock=runtime.clock,
            settings=settings,
            tracing=runtime.tracing,
        )
        # In the background: a notify started while Postgres is away waits for it (readiness says
        # so) instead of failing its start-up.
        runtime.start_up(
            "webhook endpoints",
            until_started(lambda: _register_endpoints(runtime, settings), what="webhook endpoints"),
        )
        hub = StreamHub(queue_size=settings.inapp_stream_queue)
        app.state.notify = NotifyState(
            common=common,
            settings=settings,
            engine=runtime.engine,
            clock=runtime.clock,
            composer=composer,
            tasks=task_deps,
            loops=loops,
            stopping=runtime.stop.is_set,
            hub=hub,
        )
        consumer.start(runtime, deps)
        app.state.feedback_router = Router(
            engine=runtime.engine, clock=runtime.clock, tokenizer=JanomeTokenizer, catalogue=themes, tasks=task_deps,
            lookback=timedelta(hours=settings.feedback_lookback_hours),
        )  # fmt: skip
        _start_routing(runtime, loops, app.state.feedback_router)
        app.state.inapp_watcher = _start_streams(runtime, settings, hub, loops)
        _start_loops(runtime, settings, loops, deps)
        try:
            yield
        finally:
            hub.close()
            await stop_runtime(runtime)
            if poster is None and isinstance(http_poster, HttpxPoster):
                await http_poster.aclose()
            if isinstance(loops.mailer, SmtpMailer):
                await loops.mailer.aclose()

    app = FastAPI(title="Touchline notify", lifespan=lifespan)
    app.add_middleware(HttpMetrics, service="notify")
    app.state.catalog = catalog
    app.state.themes = themes
    # The widget runs on the product's origin: only the configured origins may call the in-app API.
    app.add_middleware(InappCORS, origins=settings.allowed_origins)
    app.include_router(ops_router(lambda: holder.get("runtime")))
    app.include_router(tracking.router)
    app.include_router(mail_answers.router)
    app.include_router(unsubscribe.router)
    app.include_router(webinars.links)
    app.include_router(inapp.router)
    app.include_router(tasks.router, dependencies=[require_token(lambda: common)])
    app.include_router(activities.router, dependencies=[require_token(lambda: common)])
    app.include_router(answers.router, dependencies=[require_token(lambda: common)])
    app.include_router(subscriptions.router, dependencies=[require_token(lambda: common)])
    app.include_router(milestones.router, dependencies=[require_token(lambda: common)])
    app.include_router(webinars.router, dependencies=[require_token(lambda: common)])
    audit.install(app, service="notify", get_runtime=lambda: holder.get("runtime"), get_common=lambda: common)
    _add_widget_routes(app, common, settings)
    return app


def _start_loops(runtime: Runtime, settings: NotifySettings, loops: Loops, deps: Deps) -> None:
    """The loops that carry out what the consumer and the API recorded (mail, webhooks, outcomes to
    publish, parked commands to expire), the backlog gauges measuring them, and GET /pending."""
    runtime.spawn("mail", loops.mail(runtime.stop))
    runtime.spawn("webhooks", loops.run("webhooks", lambda: loops.webhooks_once(runtime.stop), runtime.stop))
    runtime.spawn("outcomes", loops.run("outcomes", loops.relay_once, runtime.stop))

    async def expire_parked_once() -> int:
        # Until a simulated clock hears its first time, now() is the wall clock: waits would age wrongly.
        if not runtime.clock.known:
            return 0
        async with runtime.engine.begin() as conn:
            settled = await expire_parked(PgRepository(conn), deps)
        if settled:
            loops.poke("mail", "outcomes")
        return settled

    runtime.spawn("parked", loops.run("parked", expire_parked_once, runtime.stop))
    if settings.loops_listen:
        listener = PgListener(listen_dsn(runtime.common.database_url), channel=pg_wake.CHANNEL)
        runtime.spawn("loops-listen", loops.listen(listener, runtime.stop))
    runtime.spawn("backlog", backlog.run(runtime.engine, every=settings.backlog_seconds, stop=runtime.stop))
    runtime.pending = lambda: backlog.due(runtime.engine, wall_now=wall_now())


def _start_routing(runtime: Runtime, loops: Loops, router: Router) -> None:
    """Feedback routing and the weekly digests (routing.py): what they queue, the webhook loop sends."""
    loops.wakes.setdefault("routing", asyncio.Event())

    async def route() -> int:
        done = await router.once()
        if done:
            loops.poke("webhooks", "mail", "outcomes")  # a hidden-value task mails its owner
        return done

    runtime.spawn("routing", loops.run("routing", route, runtime.stop))


def _add_widget_routes(app: FastAPI, common: CommonSettings, settings: NotifySettings) -> None:
    """The in-app widget's script, and a sample page showing it (not in prod)."""

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="application/javascript")

    @app.get("/demo", include_in_schema=False)
    async def demo(request: Request, user: str = "demo-user") -> HTMLResponse:
        """The widget on a sample page. Dev/test only: it signs the user token itself, which a product never should."""
        if common.env == "prod":
            raise HTTPException(404, "not found")
        token = user_token(settings.inapp_secret.get_secret_value(), user)
        page = (STATIC / "demo.html").read_text(encoding="utf-8")
        values: dict[str, Any] = {"{{USER}}": user, "{{TOKEN}}": token, "{{BASE}}": str(request.base_url).rstrip("/")}
        for key, value in values.items():
            page = page.replace(key, html.escape(str(value)))
        return HTMLResponse(page)


def preview(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline notify preview", description="render a template with sample data")
    parser.add_argument("template")
    parser.add_argument("--locale", choices=["ja", "en"], default="en")
    parser.add_argument("--html", action="store_true", help="print the HTML part instead of the text part")
    parser.add_argument("--inapp", action="store_true", help="render the in-app definition instead of the mail")
    args = parser.parse_args(argv)
    settings = NotifySettings()
    catalog = Catalog.load(settings.templates)
    context = {**SAMPLE_CONTEXT, **settings.brand.context()}  # the configured product, links and phone
    if args.inapp:
        print(catalog.render_inapp(args.template, locale=args.locale, context=context))
        return 0
    try:
        mail = catalog.render_email(
            args.template, locale=args.locale, context=context, links=sample_links(settings.public_url)
        )
    except KeyError as exc:
        print(f"touchline notify preview: {exc.args[0]}; known: {', '.join(catalog.email_names())}", file=sys.stderr)
        return 2
    print(f"Subject: {mail.subject}\n")
    print(mail.html if args.html else mail.text)
    return 0


def token(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline notify token", description="the in-app user token for a user id")
    parser.add_argument("user_id")
    print(user_token(NotifySettings().inapp_secret.get_secret_value(), parser.parse_args(argv).user_id))
    return 0


def cli(argv: list[str]) -> int:
    if argv and argv[0] == "preview":
        return preview(argv[1:])
    if argv and argv[0] == "token":
        return token(argv[1:])
    if argv:
        print(
            "usage: touchline notify [preview TEMPLATE [--locale ja] [--html] [--inapp] | token USER_ID]",
            file=sys.stderr,
        )
        return 2
    common = CommonSettings()
    settings = NotifySettings()
    configure_logging("notify", common.log_level)
    serve(build_app(common, settings), host=settings.host, port=settings.port)
    return 0
