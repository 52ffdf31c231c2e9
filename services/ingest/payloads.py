"""Request bodies: gunzip with a cap, the JSON document, single calls and batches. Pure."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import orjson

from .domain import (
    Call,
    Limits,
    Parsed,
    Problem,
    Rejected,
    RequestInvalid,
    TimePolicy,
    nul_in,
    parse_call,
    parse_instant,
    too_deep,
)
from .semantics import normalise

GZIP_MAGIC = b"\x1f\x8b"


def gunzip_capped(data: bytes, *, limit: int) -> bytes:
    """Decompress a gzip body without ever holding more than ``limit`` bytes (a zip bomb stops early).

    Several gzip members one after the other are one body (RFC 1952); any other byte after the
    stream is refused: a body is what it says, or nothing.
    """
    out = b""
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise RequestInvalid(
                    Problem("body", f"decompressed body exceeds {limit} bytes", "too_large"), status=413
                )
            out += inflater.flush()
        except zlib.error as exc:
            raise RequestInvalid(Problem("body", f"Content-Encoding is gzip but the body is not: {exc}")) from exc
        if not inflater.eof:
            raise RequestInvalid(Problem("body", "gzip body is truncated"))
        if len(out) > limit:
            raise RequestInvalid(Problem("body", f"decompressed body exceeds {limit} bytes", "too_large"), status=413)
        data = inflater.unused_data
        if not data:
            return out
        if not data.startswith(GZIP_MAGIC):
            raise RequestInvalid(Problem("body", f"{len(data)} bytes of trailing garbage after the gzip stream"))


def load_document(data: bytes, *, limit: int) -> dict[str, Any]:
    """The JSON object of a request; anything else is refused naming what is wrong."""
    if len(data) > limit:
        raise RequestInvalid(Problem("body", f"body is {len(data)} bytes, limit {limit}", "too_large"), status=413)
    if not data.strip():
        raise RequestInvalid(Problem("body", "empty body; expected a JSON object"))
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid(Problem("body", f"not valid JSON: {exc}")) from exc
    if not isinstance(document, dict):
        raise RequestInvalid(Problem("body", "expected a JSON object"))
    return document


def body_write_key(document: dict[str, Any]) -> str | None:
    key = document.get("writeKey")
    return key if isinstance(key, str) and key else None


def parse_single(
    document: dict[str, Any], *, kind: str, received_at: datetime, policy: TimePolicy, limits: Limits
) -> Parsed:
    """A /v1/<kind> call: the whole request is the event (so a too-large event is a 413)."""
    result = _parse(document, kind=kind, index=0, path="$", received_at=received_at, policy=policy, limits=limits)
    if isinstance(result, Call):
        return Parsed(calls=[result], rejected=[])
    if any(p.reason == "too_large" for p in result):
        raise RequestInvalid(next(p for p in result if p.reason == "too_large"), status=413)
    return Parsed(calls=[], rejected=[Rejected(index=0, problems=result)])


def parse_batch(document: dict[str, Any], *, received_at: datetime, policy: TimePolicy, limits: Limits) -> Parsed:
    """A /v1/batch call: each valid event is kept; each invalid one is reported by index."""
    items = document.get("batch")
    if not isinstance(items, list):
        raise RequestInvalid(Problem("batch", "expected an array of events"))
    if len(items) > limits.max_batch_events:
        raise RequestInvalid(
            Problem("batch", f"{len(items)} events, limit {limits.max_batch_events}", "too_large"), status=400
        )
    outer_context = document.get("context") or {}
    if not isinstance(outer_context, dict):
        raise RequestInvalid(Problem("context", "expected an object"))
    # Merged into every event: refused once here rather than once per event.
    refused = too_deep(outer_context, "context") or nul_in(outer_context, "context")
    if refused is not None:
        raise RequestInvalid(refused)
    outer_sent_at: datetime | None = None
    if document.get("sentAt") is not None:
        parsed = parse_instant(document["sentAt"], "sentAt")
        if isinstance(parsed, Problem):
            raise RequestInvalid(parsed)
        outer_sent_at = parsed
    calls: list[Call] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        # parse_call directly, no **options forwarding: this loop runs for every event.
        path = f"batch[{index}]"
        result = parse_call(
            item,
            kind=None,
            index=index,
            path=path,
            received_at=received_at,
            policy=policy,
            limits=limits,
            outer_context=outer_context,
            outer_sent_at=outer_sent_at,
        )
        if isinstance(result, Call) and result.kind in ("group", "identify"):
            result = normalise(result, path=path)
        if isinstance(result, Call):
            calls.append(result)
        else:
            rejected.append(Rejected(index=index, problems=result))
    return Parsed(calls=calls, rejected=rejected)


def _parse(raw: Any, *, path: str, **options: Any) -> Call | list[Problem]:
    result = parse_call(raw, path=path, **options)
    return normalise(result, path=path) if isinstance(result, Call) else result
