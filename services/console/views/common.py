"""What every page shares: the signed-in CSM, the CSRF check, the translator, rendering.

Unauthenticated requests are refused before any route body runs: a page (GET) redirects to the
login form, an action (POST) answers 401. Every POST from a signed-in CSM must carry the CSRF token
of that CSM's own session, or it answers 403 and nothing is changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..actor import ACTOR
from ..auth import Session, SessionSigner, User, UserStore
from ..i18n import pick_locale, translator
from ..ports import Backend

SESSION_COOKIE = "tl_session"
LANG_COOKIE = "tl_lang"


class NotSignedIn(Exception):
    pass


class CsrfRefused(Exception):
    pass


class Forbidden(Exception):
    """The signed-in person's role does not allow this page or action (answered 403)."""

    def __init__(self, permission: str, ctx: Ctx) -> None:
        super().__init__(permission)
        self.permission, self.ctx = permission, ctx


@dataclass
class Ctx:
    """The signed-in CSM and what a template needs to speak to them."""

    request: Request
    user: User
    session: Session
    locale: str
    t: Callable[..., str]
    csrf: str

    @property
    def backend(self) -> Backend:
        return self.request.app.state.console.backend

    @property
    def users(self) -> UserStore:
        return self.request.app.state.console.users

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        return render(
            self.request,
            template,
            status=status,
            user=self.user,
            csrf=self.csrf,
            t=self.t,
            locale=self.locale,
            **values,
        )


def signer_of(request: Request) -> SessionSigner:
    return request.app.state.console.signer


def locale_for(request: Request, user: User | None) -> str:
    state = request.app.state.console
    return pick_locale(
        chosen=request.cookies.get(LANG_COOKIE) or request.query_params.get("lang"),
        user_locale=user.locale if user else None,
        accept_language=request.headers.get("accept-language", ""),
        default=state.settings.default_locale,
    )


def translate_for(request: Request, locale: str) -> Callable[..., str]:
    return translator(request.app.state.console.catalogues, locale)


async def signed_in(request: Request) -> Ctx:
    """FastAPI dependency for every page and action except login."""
    state = request.app.state.console
    session = state.signer.read(request.cookies.get(SESSION_COOKIE), now=time.time())
    user = state.users.get(session.email) if session else None
    if session is None or user is None:
        raise NotSignedIn()
    ACTOR.set(user.email)
    locale = locale_for(request, user)
    return Ctx(request, user, session, locale, translate_for(request, locale), state.signer.csrf_token(session))


async def acting(request: Request) -> Ctx:
    """signed_in + the CSRF token of this very session in the posted form."""
    ctx = await signed_in(request)
    form = await request.form()
    if not signer_of(request).csrf_ok(ctx.session, _text(form.get("csrf"))):
        raise CsrfRefused()
    return ctx


def require(ctx: Ctx, permission: str) -> None:
    """Refuse (403 page) unless the person's role has ``permission`` (see auth.PERMISSIONS)."""
    if not ctx.user.can(permission):
        raise Forbidden(permission, ctx)


SignedIn = Annotated[Ctx, Depends(signed_in)]
Acting = Annotated[Ctx, Depends(acting)]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    templates = request.app.state.console.templates
    return templates.TemplateResponse(request, template, values, status_code=status)


def safe_next(target: str | None, default: str = "/accounts") -> str:
    """Only paths on this site: ``//evil.example`` or ``https://...`` would make login an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def back_to(path: str, *, msg: str | None = None, err: str | None = None) -> RedirectResponse:
    params = {k: v for k, v in (("msg", msg), ("err", err)) if v}
    query = ("&" if "?" in path else "?") + urlencode(params) if params else ""
    return RedirectResponse(path + query, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def parse_day(text: str | None) -> datetime | None:
    """A form date (YYYY-MM-DD) as midnight UTC; '' -> None; anything else -> ValueError."""
    if not text:
        return None
    day = date.fromisoformat(text.strip())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
