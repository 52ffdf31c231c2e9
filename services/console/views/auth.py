"""Login, logout and the language switch.

The login form has its own CSRF defence (no session exists yet): a random cookie and a form
token derived from it, so another site cannot sign a CSM into an account of its choosing.
Wrong passwords are throttled per email + client address, per address and per email (see
``touchline.console.throttle``); the client address is what uvicorn reports, so behind a proxy
set FORWARDED_ALLOW_IPS to the proxy's address for X-Forwarded-For to count.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from .common import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Acting,
    locale_for,
    render,
    safe_next,
    signer_of,
    translate_for,
)

log = logging.getLogger(__name__)
LOGIN_COOKIE = "tl_login"
DEVICE_COOKIE = "tl_device"
DEVICE_DAYS = 180
UNAVAILABLE_RETRY_S = 5
router = APIRouter()


def _cookie_args(request: Request) -> dict[str, object]:
    secure = request.app.state.console.secure_cookies
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def _login_token(request: Request, nonce: str) -> str:
    return hmac.new(request.app.state.console.secret, f"login:{nonce}".encode(), "sha256").hexdigest()


def _login_page(request: Request, *, next_: str, error: str | None = None, status: int = 200) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    locale = locale_for(request, None)
    response = render(
        request,
        "login.html",
        status=status,
        t=translate_for(request, locale),
        locale=locale,
        user=None,
        next=next_,
        error=error,
        login_token=_login_token(request, nonce),
    )
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **_cookie_args(request))  # type: ignore[arg-type]
    return response


def _unavailable(request: Request, *, next_: str, t: Callable[..., str]) -> Response:
    page = _login_page(request, next_=safe_next(next_), error=t("login.unavailable"), status=503)
    page.headers["retry-after"] = str(UNAVAILABLE_RETRY_S)
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/accounts") -> Response:
    return _login_page(request, next_=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    login_token: str = Form(""),
    next: str = Form("/accounts"),
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    t = translate_for(request, locale_for(request, None))
    if not nonce or not hmac.compare_digest(login_token.encode(), _login_token(request, nonce).encode()):
        return _login_page(request, next_=safe_next(next), error=t("login.expired"), status=403)
    throttle = request.app.state.console.throttle
    address = request.client.host if request.client else "unknown"
    known_device = signer_of(request).device_ok(request.cookies.get(DEVICE_COOKIE), email)
    try:
        wait = await throttle.begin(email=email, address=address, known_device=known_device, now=time.time())
    except (SQLAlchemyError, OSError) as exc:
        # No password is checked without its attempt counted: sign-in fails closed while Postgres is away.
        log.error("console login unavailable: throttle store failed", extra={"error": repr(exc)[:300]})
        return _unavailable(request, next_=next, t=t)
    if wait > 0:
        log.warning("console login throttled", extra={"email": email[:200], "client": address, "wait_s": wait})
        seconds = max(1, math.ceil(wait))
        page = _login_page(request, next_=safe_next(next), error=t("login.throttled", seconds=seconds), status=429)
        page.headers["retry-after"] = str(seconds)
        return page
    try:
        # scrypt in a thread: a sign-in must not stall every other page of this process.
        user = await asyncio.to_thread(request.app.state.console.users.authenticate, email, password)
    except BaseException:
        await throttle.abandoned(email=email, address=address)
        raise
    if user is None:
        try:
            await throttle.failed(email=email, address=address, now=time.time())
        except (SQLAlchemyError, OSError) as exc:
            log.error("console login unavailable: throttle store failed", extra={"error": repr(exc)[:300]})
            return _unavailable(request, next_=next, t=t)
        log.info("console login refused", extra={"email": email[:200], "client": address})
        return _login_page(request, next_=safe_next(next), error=t("login.wrong"), status=401)
    try:
        await throttle.succeeded(email=email, address=address)
    except (SQLAlchemyError, OSError) as exc:  # the right password still signs in; counters fade in an hour
        log.warning("console login: could not clear the throttle counters", extra={"error": repr(exc)[:300]})
    response = RedirectResponse(safe_next(next), status_code=303)
    cookie = signer_of(request).issue(user.email, now=time.time())
    max_age = int(request.app.state.console.settings.session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=max_age, **_cookie_args(request))  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_COOKIE, path="/")
    device = signer_of(request).device_token(user.email)
    response.set_cookie(DEVICE_COOKIE, device, max_age=DEVICE_DAYS * 86400, **_cookie_args(request))  # type: ignore[arg-type]
    log.info("console login", extra={"email": user.email})
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Acting) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
async def switch_language(request: Request, ctx: Acting) -> Response:
    form = await request.form()
    locale = str(form.get("locale", ""))
    if locale not in ("ja", "en"):
        return Response(f"locale: must be ja or en, not {locale[:20]!r}", status_code=422)
    response = RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
    response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, **_cookie_args(request))  # type: ignore[arg-type]
    return response
