"""CSV import from the console: a CRM export of accounts or contacts, dry run first, through ingest."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from ..importer import ImportRefused
from .accounts import BadInput
from .common import Acting, SignedIn

router = APIRouter()
KINDS = ("accounts", "contacts")
MAPPINGS = ("salesforce", "hubspot")


@router.get("/imports")
async def import_form(request: Request, ctx: SignedIn) -> Response:
    return ctx.render("imports.html", kinds=KINDS, mappings=MAPPINGS, report=None, error=None, chosen={})


@router.post("/imports")
async def import_upload(request: Request, ctx: Acting) -> Response:
    form = await request.form()
    kind, mapping = str(form.get("kind", "")), str(form.get("mapping", ""))
    if kind not in KINDS:
        raise BadInput("kind", f"must be one of {', '.join(KINDS)}")
    if mapping not in MAPPINGS:
        raise BadInput("mapping", f"must be one of {', '.join(MAPPINGS)}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise BadInput("file", "choose a CSV file")
    dry_run = form.get("dry_run") is not None
    chosen = {"kind": kind, "mapping": mapping, "dry_run": dry_run}
    importer = request.app.state.console.importer
    report, error = None, None
    if importer is None:
        error = ctx.t("imports.not_configured")
    else:
        try:
            report = await importer.upload(
                kind, await upload.read(), mapping=mapping, dry_run=dry_run, actor=ctx.user.email
            )
        except ImportRefused as exc:
            error = exc.message
    status = 200 if error is None else 422 if importer is not None else 503
    return ctx.render(
        "imports.html", status=status, kinds=KINDS, mappings=MAPPINGS, report=report, error=error, chosen=chosen
    )
