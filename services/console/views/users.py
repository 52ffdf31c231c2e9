"""The users page (admins): who may sign in, with their role and team. Changes are made with
``touchline console adduser`` (the users file is configuration, kept out of the web process)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ..auth import PERMISSIONS, ROLES
from .common import SignedIn, require

router = APIRouter()


@router.get("/users")
async def users_page(ctx: SignedIn) -> Response:
    require(ctx, "users.read")
    return ctx.render("users.html", people=ctx.users.all(), roles=ROLES, permissions=PERMISSIONS)
