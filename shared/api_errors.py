"""The error answers of the JSON APIs (health, touch, notify): one documented shape per status.

- 422: FastAPI's validation shape, ``{"detail": [{"loc": [where, name], "msg", "type"}]}``, whether
  FastAPI found the problem or a route did (``field_error``): a client reads the field from ``loc``.
- Every other 4xx: ``{"detail": "<message>"}``.

``error_responses`` documents them in a route's OpenAPI, so the spec lists every status it answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel

DESCRIPTIONS = {
    400: "the request cannot be used: a body that is not JSON (or not UTF-8), or as the message says",
    401: "missing or wrong credentials",
    403: "the token lacks the scope this route needs (the message names it)",
    404: "not found",
    409: "conflicts with the current state (the message says which)",
    422: "a parameter or body field is invalid: `detail[].loc` names it",
}


class ErrorMessage(BaseModel):
    """Any 4xx but 422."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class FieldErrors(BaseModel):
    """422: every invalid field, each named by its location (``["query", "offset"]``, ``["body", "until"]``)."""

    detail: list[FieldProblem]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, with the body shape each one has.

    The message body is spelt out as JSON: named as a model, FastAPI would list it under the
    route's own media type (text/html for the pages of a mail's links), which it is not.
    """
    message = {"application/json": {"schema": ErrorMessage.model_json_schema()}}
    return {
        code: {"model": FieldErrors, "description": DESCRIPTIONS[code]}
        if code == 422
        else {"content": message, "description": DESCRIPTIONS[code]}
        for code in codes
    }


def field_error(where: str, name: str, message: str) -> HTTPException:
    """A 422 in FastAPI's validation shape naming one field (``where``: path, query, header or body)."""
    return HTTPException(422, [{"loc": [where, name], "msg": message, "type": "value_error"}])


async def refuse_nul(request: Request) -> None:
    """Router dependency: a NUL character in a path or query value is a 422 naming the parameter.

    Postgres stores no NUL in text, so such a value can match nothing; passed on, it fails the query.
    """
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise field_error("path", name, "must not contain a NUL character (%00)")
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise field_error("query", name.replace("\x00", "%00"), "must not contain a NUL character (%00)")
