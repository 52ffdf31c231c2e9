"""Who the console acts for in this request: the signed-in person's email, sent to the services as
``X-Touchline-Actor`` so their audit logs name the person, not the console's token."""

from __future__ import annotations

from contextvars import ContextVar

ACTOR: ContextVar[str | None] = ContextVar("touchline_console_actor", default=None)
