"""Segment calls: validation, batch expansion and clock-skew correction. Pure: time comes in as values."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

Kind = Literal["track", "identify", "group", "page", "screen", "alias"]
KINDS: tuple[Kind, ...] = ("track", "identify", "group", "page", "screen", "alias")
MAX_MESSAGE_ID = 100
MAX_ID = 512
# Objects and arrays nested inside one event, at most. Real SDK payloads nest a handful of levels;
# orjson (and so Kafka and Postgres on the way) refuses more than 255, Python recursion about 1,000.
MAX_DEPTH = 64
# Account ids are read back as one URL path segment (/v1/accounts/{id}): a "/" can never be.
ACCOUNT_ID_FORBIDDEN = "/"
UNREADABLE_ACCOUNT = "must not contain '/': account ids are read back as one URL path segment"
# Never carried further than the HTTP layer: a key in an event would leak into Kafka.
_STRIPPED = ("writeKey", "write_key")


@dataclass(frozen=True)
class Problem:
    path: str  # JSON path of the field, e.g. "batch[3].userId"
    message: str
    reason: str = "invalid"  # metric label: invalid | too_large | timestamp

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 500 * 1024
    max_batch_events: int = 2500


@dataclass(frozen=True)
class TimePolicy:
    """Corrected times after receivedAt + future_tolerance are clamped; older than max_age are rejected."""

    future_tolerance: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=3650)


@dataclass(slots=True)
class Call:
    """One valid Segment call, its timestamp corrected, ready for identity resolution.

    Treated as immutable (changed only through ``dataclasses.replace``) but not frozen: a frozen
    dataclass sets its 13 fields through ``object.__setattr__``, 2.3 us per event against 0.5.
    """

    index: int
    kind: Kind
    message_id: str
    timestamp: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    group_id: str | None = None
    previous_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    index: int
    problems: list[Problem]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "errors": [p.as_json() for p in self.problems]}


@dataclass(frozen=True)
class Parsed:
    calls: list[Call]
    rejected: list[Rejected]


class RequestInvalid(ValueError):
    """The request as a whole is refused (nothing accepted): wrong shape or over a request limit."""

    def __init__(self, problem: Problem, *, status: int = 400) -> None:
        super().__init__(f"{problem.path}: {problem.message}")
        self.problem = problem
        self.status = status


def parse_instant(value: Any, path: str) -> datetime | Problem:
    """ISO-8601 with a zone (a naive time is taken as UTC), or epoch milliseconds as some SDKs send."""
    if type(value) is not str and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        return Problem(path, "expected an ISO-8601 date-time string", "timestamp")
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            parsed = datetime.fromtimestamp(value / 1000, UTC)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        elif parsed.year in (1, 9999):
            parsed.astimezone(UTC)  # an offset at the calendar's edge leaves it: refused here, not later
    except (ValueError, OverflowError, OSError):
        return Problem(path, f"not a valid ISO-8601 date-time: {str(value)[:40]!r}", "timestamp")
    return parsed


def correct_timestamp(
    *, timestamp: datetime | None, sent_at: datetime | None, received_at: datetime, policy: TimePolicy, path: str
) -> tuple[datetime, datetime | None] | Problem:
    """Segment's skew correction: timestamp = receivedAt − (sentAt − originalTimestamp).

    Returns (corrected, original-if-clamped). A time absurdly in the future is clamped to receivedAt
    (the device clock is wrong, the event is still real); one older than max_age is rejected.
    """
    if timestamp is None:
        corrected = received_at
    elif sent_at is None:
        corrected = timestamp
    else:
        try:
            corrected = received_at - (sent_at - timestamp)
        except OverflowError:  # e.g. a timestamp of 9999-12-31 sent in 2000: past the calendar's end
            return Problem(path, "timestamp and sentAt are too far apart to correct the clock skew", "timestamp")
    if corrected > received_at + policy.future_tolerance:
        return received_at, corrected
    if corrected < received_at - policy.max_age:
        days = policy.max_age.days
        return Problem(path, f"{corrected.isoformat()} is more than {days} days before receivedAt", "timestamp")
    return corrected, None


def merge_context(outer: Mapping[str, Any], inner: Mapping[str, Any]) -> dict[str, Any]:
    """Batch context merged into an event's: the event's own values win, nested objects merge."""
    if not outer:
        return dict(inner)
    merged = dict(outer)
    for key, value in inner.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_context(merged[key], value)
        else:
            merged[key] = value
    return merged


def default_message_id(raw: Mapping[str, Any], *, received_at: datetime) -> str:
    """A messageId derived from the content, so a retried identical call without one still dedups.

    A call with no timestamp either says nothing about when it happened: two identical logins an
    hour apart are two logins, so the receiving time is part of its identity.
    """
    identity: Mapping[str, Any] = raw
    if "timestamp" not in raw and "originalTimestamp" not in raw:
        identity = {**raw, "_received_at": received_at.isoformat()}
    digest = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    return f"ingest-{digest[:32]}"


def too_deep(value: Any, path: str, *, limit: int = MAX_DEPTH) -> Problem | None:
    """The first object or array nested more than ``limit`` levels inside ``value``, as a problem."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = ((f"{where}.{_key(k)}", v) for k, v in item.items())
        elif isinstance(item, list):
            children = ((f"{where}[{i}]", v) for i, v in enumerate(item))
        else:
            continue
        if depth >= limit:
            return Problem(where, f"nested more than {limit} levels deep")
        stack.extend((child, child_path, depth + 1) for child_path, child in children)
    return None


def nul_in(value: Any, path: str) -> Problem | None:
    """The first key or string holding U+0000 inside ``value``: Postgres stores no such text."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return Problem(where, "contains a NUL character (U+0000)")
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return Problem(f"{where}.{_key(key)}", "key contains a NUL character (U+0000)")
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def _key(key: str) -> str:
    return key.replace("\x00", "\\u0000")


def hostile(raw: Mapping[str, Any], path: str, encoded: bytes | None) -> Problem | None:
    """Nesting or NUL characters that would fail every store on the way, found from the event's JSON.

    ``encoded`` is the event's JSON (None when orjson refused it as too deep): the brackets and the
    escape are counted in C, and the event is walked only when they say it may be needed.
    """
    if encoded is None or encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH:
        problem = too_deep(raw, path)
        if problem is not None:
            return problem
    if encoded is None:  # not reachable from a parsed body (orjson reads integers past 64 bits as floats)
        return Problem(path, "cannot be written as JSON")
    if encoded is not None and b"\\u0000" in encoded:
        return nul_in(raw, path)
    return None


def _ident(raw: Mapping[str, Any], key: str, path: str, problems: list[Problem]) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if type(value) is str and len(value) <= MAX_ID:  # the common case, checked first: ingest's hot path
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(Problem(f"{path}.{key}", "expected a string"))
        return None
    text = str(value)
    if len(text) > MAX_ID:
        problems.append(Problem(f"{path}.{key}", f"longer than {MAX_ID} characters"))
        return None
    return text


def _obj(raw: Mapping[str, Any], key: str, path: str, problems: list[Problem]) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(Problem(f"{path}.{key}", "expected an object"))
        return {}
    return value


def _time(raw: Mapping[str, Any], key: str, path: str, problems: list[Problem]) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    parsed = parse_instant(value, f"{path}.{key}")
    if isinstance(parsed, Problem):
        problems.append(parsed)
        return None
    return parsed


def parse_call(
    raw: Any,
    *,
    kind: str | None,
    index: int,
    path: str,
    received_at: datetime,
    policy: TimePolicy,
    limits: Limits,
    outer_context: Mapping[str, Any] | None = None,
    outer_sent_at: datetime | None = None,
) -> Call | list[Problem]:
    """Validate one call; return it or every problem found, each naming its field path."""
    if not isinstance(raw, dict):
        return [Problem(path, "expected an object")]
    try:
        encoded: bytes | None = orjson.dumps(raw, default=str)
    except TypeError:  # orjson's own recursion limit (255 levels): reported by hostile() below
        encoded = None
    if encoded is not None and len(encoded) > limits.max_event_bytes:
        size = len(encoded)
        return [Problem(path, f"event is {size} bytes, limit {limits.max_event_bytes}", "too_large")]
    refused = hostile(raw, path, encoded)
    if refused is not None:
        return [refused]
    if "writeKey" in raw or "write_key" in raw:  # _STRIPPED, spelt out: checked for every event
        raw = {k: v for k, v in raw.items() if k not in _STRIPPED}
    problems: list[Problem] = []
    kind = kind or raw.get("type")
    if kind not in KINDS:
        return [Problem(f"{path}.type", f"expected one of {', '.join(KINDS)}")]
    user_id = _ident(raw, "userId", path, problems)
    anonymous_id = _ident(raw, "anonymousId", path, problems)
    if user_id is None and anonymous_id is None and not problems:
        problems.append(Problem(f"{path}.userId", "userId or anonymousId is required"))
    event = _ident(raw, "event", path, problems)
    if kind == "track" and event is None:
        problems.append(Problem(f"{path}.event", "required for track"))
    group_id = _ident(raw, "groupId", path, problems)
    if kind == "group" and group_id is None:
        problems.append(Problem(f"{path}.groupId", "required for group"))
    elif group_id is not None and ACCOUNT_ID_FORBIDDEN in group_id:
        problems.append(Problem(f"{path}.groupId", UNREADABLE_ACCOUNT))
    previous_id = _ident(raw, "previousId", path, problems)
    if kind == "alias" and (previous_id is None or user_id is None):
        problems.append(Problem(f"{path}.previousId", "alias needs previousId and userId"))
    message_id = _ident(raw, "messageId", path, problems) or default_message_id(raw, received_at=received_at)
    if len(message_id) > MAX_MESSAGE_ID:
        problems.append(Problem(f"{path}.messageId", f"longer than {MAX_MESSAGE_ID} characters"))
    properties = _obj(raw, "properties", path, problems)
    traits = _obj(raw, "traits", path, problems)
    if kind == "identify" and not traits and isinstance(raw.get("context"), dict):
        # RudderStack's SDKs send identify traits only as context.traits.
        traits = _obj(raw["context"], "traits", f"{path}.context", problems)
    context = merge_context(outer_context or {}, _obj(raw, "context", path, problems))
    context_group = context.get("groupId")
    if isinstance(context_group, str) and ACCOUNT_ID_FORBIDDEN in context_group:
        problems.append(Problem(f"{path}.context.groupId", UNREADABLE_ACCOUNT))
    if kind == "page" and raw.get("name") is not None:
        properties = {"name": raw["name"], **properties}
    if kind == "screen" and raw.get("name") is not None:
        properties = {"name": raw["name"], **properties}
    # Both read, so a wrong originalTimestamp is refused even beside a timestamp (the spec says so).
    original = _time(raw, "timestamp", path, problems)
    fallback = _time(raw, "originalTimestamp", path, problems)
    original = original or fallback
    sent_at = _time(raw, "sentAt", path, problems) or outer_sent_at
    if problems:
        return problems
    corrected = correct_timestamp(
        timestamp=original, sent_at=sent_at, received_at=received_at, policy=policy, path=f"{path}.timestamp"
    )
    if isinstance(corrected, Problem):
        return [corrected]
    timestamp, clamped_from = corrected
    if clamped_from is not None:
        # Keep the evidence of a clamp: the device clock was wrong, and support will ask why.
        mark = context.get("touchline")
        mark = mark if isinstance(mark, dict) else {}
        context = {**context, "touchline": {**mark, "clamped_from": clamped_from.isoformat()}}
    return Call(
        index=index,
        kind=kind,
        message_id=message_id,
        timestamp=timestamp,
        received_at=received_at,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=event,
        group_id=group_id,
        previous_id=previous_id,
        properties=properties,
        traits=traits,
        context=context,
    )
