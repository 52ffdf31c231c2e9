"""CORS for the in-app API only: the product's front end calls it from its own origin.

The other routes need no CORS: tracking, answer and unsubscribe links are navigations, and the
task and answer APIs are called by servers (the console) with the API token. So a browser page of
any origin gets no CORS allowance for them, and the in-app API answers only the configured origins.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.origins import AllowedOrigins

INAPP_PATHS = ("/v1/inapp/", "/widget.js")


class InappCORS:
    """Starlette's CORSMiddleware (preflight, Vary, allow headers) applied to the in-app paths."""

    def __init__(self, app: ASGIApp, *, origins: AllowedOrigins) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"] if origins.any else list(origins.exact),
            allow_origin_regex=origins.regex,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-touchline-user", "x-touchline-user-token"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(INAPP_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
