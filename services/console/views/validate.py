"""Validation (admins): paste a playbook or a scorecards file and see the problems the owning
service finds (touch for playbooks, health for scorecards) before deploying it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..ports import BackendRefused
from .accounts import BadInput
from .common import Acting, SignedIn, require

router = APIRouter()
KINDS = ("playbook", "scorecards")
MAX_CHARS = 200_000


@router.get("/validate")
async def validate_form(ctx: SignedIn) -> Response:
    require(ctx, "config.validate")
    return ctx.render("validate.html", kinds=KINDS, kind="playbook", text="", problems=None, refused=None)


@router.post("/validate")
async def validate(request: Request, ctx: Acting) -> Response:
    require(ctx, "config.validate")
    form = await request.form()
    kind, text = str(form.get("kind", "")), str(form.get("text", ""))
    if kind not in KINDS:
        raise BadInput("kind", f"must be one of {', '.join(KINDS)}")
    if not text.strip() or len(text) > MAX_CHARS:
        raise BadInput("text", f"paste the file (1 to {MAX_CHARS} characters)")
    refused = problems = None
    try:
        problems = await ctx.backend.validate(kind, text)
    except BackendRefused as exc:
        refused = exc.message
    return ctx.render("validate.html", kinds=KINDS, kind=kind, text=text, problems=problems, refused=refused)
