"""OpenAPI descriptions of the Segment bodies (the routes read raw bytes to cap and gunzip them)."""

from __future__ import annotations

from typing import Any

_CALL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "userId": {"type": "string"},
        "anonymousId": {"type": "string", "description": "userId or anonymousId is required"},
        "event": {"type": "string", "description": "track: the event name (required)"},
        "groupId": {"type": "string", "description": "group: the account id (required)"},
        "previousId": {"type": "string", "description": "alias: the former id (required)"},
        "name": {"type": "string", "description": "page/screen name"},
        "properties": {"type": "object"},
        "traits": {"type": "object", "description": "group/identify traits (common aliases mapped to canonical keys)"},
        "context": {"type": "object", "description": "context.groupId, when present, is the event's account"},
        "timestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "messageId": {"type": "string", "maxLength": 100, "description": "dedup key; retry with the same one"},
        "writeKey": {"type": "string", "description": "alternative to HTTP Basic auth"},
    },
}
_BATCH: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {
            "type": "array",
            "maxItems": 2500,
            "items": {
                **_CALL,
                "properties": {
                    "type": {"enum": ["track", "identify", "group", "page", "screen", "alias"]},
                    **_CALL["properties"],
                },
            },
        },
        "context": {"type": "object", "description": "merged into each event's context (the event's values win)"},
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string"},
    },
}
_EXAMPLE = {"userId": "u-1", "event": "Signed In", "properties": {}, "context": {"groupId": "acme"}}
CALL_BODY = {"required": True, "content": {"application/json": {"schema": _CALL, "example": _EXAMPLE}}}
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
