"""POST /v1/import/{accounts|contacts}: a CRM's CSV export as the Segment calls it stands for."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from .api import IngestState, Refused, _read_capped, _source
from .csvimport import PRESETS, MappingInvalid, RecordKind, load_mapping, preset
from .domain import RequestInvalid
from .importing import ImportedRecords, import_csv
from .ports import Unavailable

log = logging.getLogger(__name__)


def import_router(
    get_state: Callable[[], IngestState], get_store: Callable[[], ImportedRecords | None], *, max_bytes: int
) -> APIRouter:
    api = APIRouter(prefix="/v1/import", tags=["import"])

    @api.post(
        "/{kind}",
        summary="Import a CSV export of accounts or contacts (Salesforce, HubSpot or a YAML mapping)",
        responses={
            200: {"description": "every row valid (applied, or what would change on a dry run)"},
            400: {"description": "some rows refused, each with its line; the valid rows were applied"},
            401: {"description": "missing or unknown write key"},
            413: {"description": "file larger than TOUCHLINE_INGEST_IMPORT_MAX_BYTES"},
            422: {"description": "the file or the mapping cannot be used as a whole (nothing applied)"},
            503: {"description": "Kafka or Postgres unavailable; retry (the same rows dedup)"},
        },
    )
    async def import_file(
        request: Request,
        kind: Annotated[RecordKind, Path(description="accounts or contacts")],
        mapping: Annotated[
            str, Query(description=f"a preset ({', '.join(PRESETS)}) unless a mapping file is sent")
        ] = "salesforce",
        dry_run: Annotated[bool, Query(description="report what would change; write nothing")] = False,
    ) -> Response:
        state = get_state()
        try:
            source = _source(state, request, None)
            data, column_map = await _upload(request, mapping, max_bytes=max_bytes)
            store = get_store()
            if state.ports is None or store is None:
                raise Unavailable("starting")
            report = import_csv(
                kind,
                data,
                column_map,
                dry_run=dry_run,
                source=source,
                ports=state.ports,
                store=store,
                now=state.now(),
                limits=state.limits,
                policy=state.policy,
            )
            body = (await report).as_json()
        except Refused as refused:
            return refused.response()
        except MappingInvalid as exc:
            return JSONResponse({"success": False, "error": "unusable", "message": str(exc)}, status_code=422)
        except Unavailable as exc:
            log.warning("import answered 503", extra={"reason": str(exc)})
            headers = {"Retry-After": str(state.retry_after)}
            message = f"nothing or part stored, retry (rows already applied dedup): {exc}"
            return JSONResponse({"success": False, "error": "unavailable", "message": message}, 503, headers=headers)
        return JSONResponse(body, status_code=200 if body["success"] else 400)

    return api


async def _upload(request: Request, mapping: str, *, max_bytes: int) -> tuple[bytes, Any]:
    """The CSV and its mapping: a text/csv body with a preset, or multipart ``file`` (+ ``mapping`` YAML)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media == "multipart/form-data":
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise Refused(413, "too_large", f"upload is {declared} bytes, limit {max_bytes}")
            form = await request.form(max_part_size=max_bytes)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Refused(400, "invalid", "multipart upload needs a 'file' part holding the CSV")
            data = await upload.read()
            yaml_part = form.get("mapping")
            if yaml_part is not None and not isinstance(yaml_part, str):
                name = yaml_part.filename or "mapping"
                return data, load_mapping((await yaml_part.read()).decode("utf-8", "replace"), source=name)
            return data, preset(str(yaml_part or mapping))
        return await _read_capped(request, max_bytes), preset(mapping)
    except RequestInvalid as exc:
        raise Refused(exc.status, exc.problem.reason, str(exc)) from exc
