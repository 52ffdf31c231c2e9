"""POST /v1/scorecards/validate (admin scope): check a scorecards file before deploying it, with
the problems named by line and field as start-up would name them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends

from touchline.shared.api_errors import error_responses, refuse_nul
from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.tokens import admin_route

from .adapters.scorecard_file import ScorecardFileError, load_scorecards

HEADLINE = "invalid scorecards:"


def router(get_common: Callable[[], CommonSettings]) -> APIRouter:
    api = APIRouter(
        prefix="/v1",
        tags=["health"],
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        responses=error_responses(401, 403, 422),
    )

    @api.post("/scorecards/validate")
    @admin_route
    async def validate_scorecards(body: str = Body(..., media_type="application/yaml")) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "scorecards.yaml"
            path.write_text(body, encoding="utf-8")
            try:
                cards = load_scorecards(path)
            except ScorecardFileError as exc:
                lines = (line.strip().replace(str(path), "body") for line in str(exc).splitlines())
                return {"valid": False, "problems": [line for line in lines if line and line != HEADLINE]}
        return {"valid": True, "problems": [], "scorecards": [c.name for c in cards.scorecards]}

    return api
