"""Composition root of the CSM console: ``build_app`` and the ``touchline console`` command.

touchline console                 run the console (reads health, touch, notify over HTTP)
touchline console adduser EMAIL   add or update a user (asks for the password; --name, --locale, --team, --role)
touchline console demo            run it on built-in sample data, no other service needed
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from touchline.shared.settings import CommonSettings, refuse_dev_secrets
from touchline.shared.themes import JanomeTokenizer, Tokenizer, load_catalogue

from . import user_log
from .auth import LOCALES, ROLES, SessionSigner, User, UserStore, hash_password
from .i18n import load_catalogues, translator
from .importer import HttpImporter, Importer
from .ports import Backend, BackendUnavailable
from .settings import ConsoleSettings
from .throttle import InMemoryThrottleStore, LoginThrottle, ThrottleStore
from .views import accounts, audit, auth, effectiveness, exports, feedback, imports, portfolio, scores, tasks, validate
from .views import users as users_page
from .views.accounts import BadInput
from .views.common import CsrfRefused, Forbidden, NotSignedIn, locale_for, login_redirect, render
from .views.formatting import install_filters

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
DEMO_EMAIL, DEMO_PASSWORD = "demo@touchline.local", "demo-password"


@dataclass
class ConsoleState:
    settings: ConsoleSettings
    backend: Backend
    users: UserStore
    signer: SessionSigner
    secret: bytes
    secure_cookies: bool
    templates: Jinja2Templates
    catalogues: dict[str, dict[str, str]]
    themes: dict[str, list[str]]
    tokenizer: Callable[[], Tokenizer] = field(default=lambda: JanomeTokenizer())
    throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(InMemoryThrottleStore()))
    # The CSV import page's way to ingest (importer.py); None = import not configured.
    importer: Importer | None = None


def load_users(common: CommonSettings, settings: ConsoleSettings) -> UserStore:
    store = UserStore.load(Path(settings.users_file))
    if not store.all() and common.env == "dev":
        # An admin, so a dev demo shows every page (the audit log, users).
        demo = User(
            email=DEMO_EMAIL, name="Demo", password_hash=hash_password(DEMO_PASSWORD), locale="ja", role="admin"
        )
        store.put(demo)
        log.warning(
            "no console users file; env=dev, so a demo user exists for this process only",
            extra={"email": DEMO_EMAIL, "users_file": settings.users_file},
        )
    return store


def build_app(
    common: CommonSettings,
    settings: ConsoleSettings,
    *,
    backend: Backend | None = None,
    users: UserStore | None = None,
    tokenizer: Callable[[], Tokenizer] | None = None,
    throttle_store: ThrottleStore | None = None,
    importer: Importer | None = None,
) -> FastAPI:
    """With ``backend`` given (tests, the demo) and no ``throttle_store``, login counters stay in
    this process; otherwise they live in Postgres, shared by every console replica."""
    refuse_dev_secrets(settings, env=common.env)
    secret = settings.session_secret.get_secret_value().encode()
    owned_backend = backend is None
    if throttle_store is None and not owned_backend:
        throttle_store = InMemoryThrottleStore()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if owned_backend:
            from .clients import HttpBackend

            app.state.console.backend = HttpBackend.from_settings(common, settings)
        if throttle_store is None:
            from touchline.shared.db import make_engine

            from .adapters.postgres import PostgresThrottleStore

            engine = make_engine(common.database_url, pool_size=2)
            app.state.console.throttle = LoginThrottle(PostgresThrottleStore(engine))
        owned_importer = importer is None and bool(settings.import_write_key.get_secret_value())
        if owned_importer:
            app.state.console.importer = HttpImporter(settings.ingest_url, settings.import_write_key.get_secret_value())
        yield
        if owned_importer:
            await app.state.console.importer.aclose()
        if owned_backend:
            await app.state.console.backend.aclose()
        if engine is not None:
            await engine.dispose()

    app = FastAPI(
        title="Touchline console",
        description=CONSOLE_API,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    install_filters(templates.env)
    app.state.console = ConsoleState(
        settings=settings,
        backend=backend,  # type: ignore[arg-type]  # set in the lifespan when None
        users=users if users is not None else load_users(common, settings),
        signer=SessionSigner(secret, max_age_seconds=settings.session_hours * 3600),
        secret=secret,
        secure_cookies=common.env != "dev",
        templates=templates,
        catalogues=load_catalogues(),
        themes=load_catalogue(),
        tokenizer=tokenizer or cache(JanomeTokenizer),
        throttle=LoginThrottle(throttle_store or InMemoryThrottleStore()),  # Postgres: set in the lifespan
        importer=importer,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (
        auth,
        exports,
        accounts,
        tasks,
        feedback,
        effectiveness,
        scores,
        audit,
        users_page,
        validate,
        imports,
        portfolio,
    ):
        app.include_router(module.router)
    _install_handlers(app)
    app.openapi = partial(console_openapi, app)  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


CONSOLE_API = """The CSM console: HTML pages (GET) and form actions (POST), signed in by a session cookie.

No route answers JSON; this spec lists each page and action with every status it can answer, so a
client (or a fuzzer) knows what to expect. Pages redirect (303) to /login without a session;
actions answer 401 without one, 403 without the CSRF token of the CSM's own session (pages and
actions both 403 when the person's role does not allow them), and redirect
(303) back to the page they came from, with the outcome in the query string."""
_HTML = {"text/html": {"schema": {"type": "string"}}}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_PAGE: dict[str, dict[str, Any]] = {
    "200": {"description": "the page", "content": _HTML},
    "303": {"description": "to /login without a session (or from / to /accounts)"},
    "403": {"description": "the person's role does not allow this page: the 403 page", "content": _HTML},
    "404": {"description": "no such page, or no such account: the error page", "content": {**_TEXT, **_HTML}},
    "422": {"description": "an invalid query: the error page", "content": _HTML},
    "502": {"description": "health, touch or notify did not answer: the error page", "content": _HTML},
}
_ACTION: dict[str, dict[str, Any]] = {
    "200": {"description": "the form again, with what to correct", "content": _HTML},
    "303": {"description": "back to the page the form was on, with the outcome in the query string"},
    "401": {"description": "not signed in, or a wrong password", "content": {**_TEXT, **_HTML}},
    "403": {
        "description": "the CSRF (or login) token is missing or not this session's, or the role does not allow it",
        "content": {**_TEXT, **_HTML},
    },
    "404": {"description": "no such action", "content": _TEXT},
    "422": {"description": "an invalid form: the error page", "content": _HTML},
    "429": {"description": "too many wrong passwords: wait", "content": _HTML},
    "502": {"description": "health, touch or notify did not answer: the error page", "content": _HTML},
}


def console_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec of the routes, with the statuses and media types the pages really answer."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                answers = operation.pop("x-answers", None) or (_PAGE if method == "get" else _ACTION)
                validation = operation.get("responses", {}).get("422", {}).get("content", {})
                operation["responses"] = {
                    code: {**answer, "content": {**answer.get("content", {}), **validation}}
                    if code == "422" and validation
                    else answer
                    for code, answer in answers.items()
                }
        app.openapi_schema = schema
    return app.openapi_schema


def _install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("referrer-policy", "same-origin")
        if "text/html" in response.headers.get("content-type", ""):
            response.headers.setdefault("cache-control", "no-store")
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if request.method in ("GET", "HEAD"):
            return login_redirect(request)
        return PlainTextResponse("sign in first", status_code=401)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        log.warning("console form refused: CSRF token missing or not this session's", extra={"path": request.url.path})
        return PlainTextResponse("csrf: the form's token is missing or belongs to another session", status_code=403)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        log.info("console page refused: role", extra={"path": request.url.path, "permission": exc.permission})
        return exc.ctx.render("error.html", status=403, message=exc.ctx.t("error.forbidden"))

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> Response:
        return _error_page(request, str(exc), status=422)

    @app.exception_handler(BackendUnavailable)
    async def unavailable(request: Request, exc: BackendUnavailable) -> Response:
        log.error("service unavailable", extra={"service": exc.service, "detail": exc.detail})
        return _error_page(request, f"{exc.service}: {exc.detail}", status=502, unavailable=exc.service)


def _error_page(request: Request, message: str, *, status: int, unavailable: str | None = None) -> Response:
    locale = locale_for(request, None)
    t = translator(request.app.state.console.catalogues, locale)
    if unavailable:
        message = t("error.unavailable", service=unavailable) + f" ({message})"
    return render(request, "error.html", status=status, t=t, locale=locale, user=None, csrf="", message=message)


def cli(argv: list[str]) -> int:
    if argv and argv[0] == "adduser":
        return _adduser(argv[1:])
    from touchline.shared.logs import configure
    from touchline.shared.runtime import serve

    common, settings = CommonSettings(), ConsoleSettings()
    configure("console", common.log_level)
    if argv and argv[0] == "demo":
        from .demo import demo_backend

        users = load_users(common, settings)
        owners = tuple(u.email for u in users.all()) or (DEMO_EMAIL,)
        backend = demo_backend(now=datetime.now(UTC), accounts=500, owners=owners)
        serve(build_app(common, settings, backend=backend, users=users), host=settings.host, port=settings.port)
        return 0
    if argv:
        print(f"touchline console: unknown subcommand {argv[0]!r}\n{__doc__}", file=sys.stderr)
        return 2
    serve(build_app(common, settings), host=settings.host, port=settings.port)
    return 0


def _adduser(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline console adduser")
    parser.add_argument("email")
    parser.add_argument("--name", default=None)
    parser.add_argument("--locale", choices=LOCALES, default="ja")
    parser.add_argument("--team", default="default")
    parser.add_argument("--role", choices=ROLES, default=None, help="csm (default for a new user), manager or admin")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--by", default=None, help="who makes the change, for the audit log (default: the OS user)")
    args = parser.parse_args(argv)
    email = args.email.strip().lower()
    if "@" not in email:
        print("email: must be an email address", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    if len(password) < 10:
        print("password: must be at least 10 characters", file=sys.stderr)
        return 2
    path = Path(ConsoleSettings().users_file)
    store = UserStore.load(path)
    before = store.get(email)
    role = args.role or (before.role if before else "csm")
    after = User(
        email=email,
        name=args.name or email.split("@")[0],
        password_hash=hash_password(password),
        locale=args.locale,
        team=args.team,
        role=role,
    )
    store.put(after)
    store.save(path)
    user_log.record(path, actor=args.by or getpass.getuser(), at=datetime.now(UTC), before=before, after=after)
    print(f"{email} saved in {path} (role {role})")
    return 0
