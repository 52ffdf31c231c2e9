"""OpenAPI descriptions of the Segment bodies (the routes read raw bytes to cap and gunzip them).

Each kind of call has its own schema with what ingest requires of it, so a request the spec calls
valid is accepted and one it calls invalid is refused — but for what a schema cannot say, which
the descriptions do: a time older than TOUCHLINE_INGEST_MAX_EVENT_AGE_DAYS, nesting deeper than
64 levels or a NUL character inside properties, traits or context, a canonical trait that cannot
be read (docs/ingest.md).
"""

from __future__ import annotations

from typing import Any

from .domain import KINDS, MAX_DEPTH, MAX_ID, MAX_MESSAGE_ID
from .semantics import MAX_AMOUNT

_NO_NUL = "^[^\\u0000]*$"
_NULL = {"type": "null", "description": "the same as absent"}
# Epoch milliseconds of 0001-01-01 and 9999-12-31T23:59:59.999Z, the calendar's ends.
_FIRST_MS, _LAST_MS = -62_135_596_800_000, 253_402_300_799_999
_ID: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_ID, "pattern": _NO_NUL},
        {"type": "number", "description": "numbers are read as their text"},
        _NULL,
    ]
}
_REQUIRED_ID: dict[str, Any] = {
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": _NO_NUL}, {"type": "number"}]
}
_ACCOUNT_ID: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": "^[^/\\u0000]+$"},
        {"type": "number"},
    ],
    "description": "the account id; never contains '/' (read back as one URL path segment)",
}
_TIME: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "number", "minimum": _FIRST_MS, "maximum": _LAST_MS, "description": "epoch milliseconds"},
        _NULL,
    ],
    "description": "ISO 8601 (a time without offset is UTC); corrected for clock skew with sentAt. "
    "A corrected time older than TOUCHLINE_INGEST_MAX_EVENT_AGE_DAYS is refused (400).",
}
_OBJECT: dict[str, Any] = {
    "type": ["object", "null"],
    "description": f"any JSON object; at most {MAX_DEPTH} levels of nesting, no NUL character in keys or strings",
}
_AMOUNT: dict[str, Any] = {"type": ["number", "null"], "minimum": -MAX_AMOUNT, "maximum": MAX_AMOUNT}
_GROUP_TRAITS: dict[str, Any] = {
    **_OBJECT,
    "description": "account traits; common aliases are mapped to canonical keys (docs/ingest.md), others kept",
    "properties": {
        "name": {"type": ["string", "null"], "pattern": _NO_NUL},
        "arr": {**_AMOUNT, "description": "annual revenue"},
        "mrr": {**_AMOUNT, "description": "monthly revenue; arr = 12 x mrr when arr is absent"},
        "seats": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_AMOUNT},
        "renewal_date": {"anyOf": [{"type": "string", "format": "date"}, _NULL]},
        "csm_owner": {"anyOf": [{"type": "string", "format": "email"}, _NULL]},
        "lifecycle_stage": {"enum": ["onboarding", "adoption", "retention", "churned", None]},
        "roi": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
    },
}
_COMMON: dict[str, Any] = {
    "userId": {**_ID, "description": "userId or anonymousId is required"},
    "anonymousId": _ID,
    "properties": _OBJECT,
    "traits": _OBJECT,
    "context": {**_OBJECT, "description": "context.groupId, when present, is the event's account (never with '/')"},
    "timestamp": _TIME,
    "originalTimestamp": _TIME,
    "sentAt": _TIME,
    "messageId": {
        "anyOf": [{"type": "string", "maxLength": MAX_MESSAGE_ID, "pattern": _NO_NUL}, {"type": "number"}, _NULL],
        "description": "the dedup key: retry with the same one (derived from the content when absent)",
    },
    "writeKey": {"description": "alternative to HTTP Basic auth (read when no Authorization header); never stored"},
}
_WHO = {
    "anyOf": [
        {"required": ["userId"], "properties": {"userId": _REQUIRED_ID}},
        {"required": ["anonymousId"], "properties": {"anonymousId": _REQUIRED_ID}},
    ]
}
_KIND_FIELDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "track": ({"event": {**_REQUIRED_ID, "description": "the event's name"}}, ["event"]),
    "identify": ({"traits": {**_OBJECT, "description": "user traits (RudderStack's context.traits too)"}}, []),
    "group": ({"groupId": _ACCOUNT_ID, "traits": _GROUP_TRAITS}, ["groupId"]),
    "page": ({"name": {"description": "the page's name"}}, []),
    "screen": ({"name": {"description": "the screen's name"}}, []),
    "alias": (
        {"previousId": {**_REQUIRED_ID, "description": "the former user id"}, "userId": _REQUIRED_ID},
        ["previousId", "userId"],
    ),
}


def call_schema(kind: str) -> dict[str, Any]:
    fields, required = _KIND_FIELDS[kind]
    schema: dict[str, Any] = {"type": "object", "properties": {**_COMMON, **fields}, **_WHO}
    if required:
        schema["required"] = required
    return schema


def _item(kind: str) -> dict[str, Any]:
    schema = call_schema(kind)
    schema["properties"] = {"type": {"const": kind}, **schema["properties"]}
    schema["required"] = ["type", *schema.get("required", [])]
    return schema


_ITEM = {
    "anyOf": [_item(kind) for kind in KINDS],
    "description": "one call, its `type` saying which; a batch's invalid calls are refused one by one",
}
_BATCH: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "maxItems": 2500, "items": _ITEM},
        "context": {**_OBJECT, "description": "merged into each event's context (the event's values win)"},
        "sentAt": _TIME,
        "writeKey": _COMMON["writeKey"],
    },
}
_EXAMPLE = {"userId": "u-1", "event": "Signed In", "properties": {}, "context": {"groupId": "acme"}}


def call_body(kind: str) -> dict[str, Any]:
    example = _EXAMPLE if kind == "track" else {"userId": "u-1", "groupId": "acme"} if kind == "group" else None
    content: dict[str, Any] = {"schema": call_schema(kind)}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


BATCH_BODY = {
    "required": True,
    "content": {"application/json": {"schema": _BATCH, "example": {"batch": [{"type": "track", **_EXAMPLE}]}}},
}


def _error(text: str) -> dict[str, Any]:
    return {"description": text}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _error("every event is durable (on Kafka, or parked until its user is grouped)"),
    400: _error(
        "invalid: `errors` (paths), or for a batch `rejected` [{index, errors}] — the valid events WERE accepted"
    ),
    401: _error("missing or unknown write key; nothing stored"),
    413: _error("body over 500 KB or event over 32 KB; nothing stored"),
    415: _error("Content-Type not JSON or Content-Encoding not gzip"),
    429: _error("this write key is over its rate limit; see Retry-After"),
    503: _error("Kafka did not acknowledge in time; nothing acknowledged, retry after Retry-After"),
}
