"""CloudEvents 1.0 binary mode on Kafka: data in the value, attributes as ``ce_*`` headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from .messages import REGISTRY, Message

Headers = list[tuple[str, bytes]]
CONTENT_TYPE = b"application/json"


class DecodeError(ValueError):
    """A record that is not a Touchline CloudEvent we can read; it belongs in the DLQ."""


class Envelope(NamedTuple):
    """A decoded record: the message plus where it came from.

    ``message`` is the registered model for the record's ``type``, or what a consumer's own
    reader returned for it (see :data:`Readers`). Immutable; a tuple because one is built for
    every consumed record (about 4x cheaper than a frozen dataclass).

    ``traceparent`` / ``tracestate``: the W3C trace context of the CloudEvents distributed-tracing
    extension, as the record carried it; a consumer that traces replaces them with its
    processing span's before the handler sees them (see touchline.shared.tracing)."""

    id: str
    source: str
    type: str
    message: Message
    topic: str
    partition: int
    offset: int
    key: str | None
    traceparent: str | None = None
    tracestate: str | None = None


# ce_type -> a function from the record's value to the message; raises ValueError when the
# data is not valid. The default reads every registered type with its pydantic model.
Reader = Callable[[bytes], Any]
Readers = Mapping[str, Reader]
DEFAULT_READERS: Readers = {ce_type: model.__pydantic_validator__.validate_json for ce_type, model in REGISTRY.items()}


class Encoded(NamedTuple):
    """A message whose producer serialised its data itself (a hot path that skips building the
    model); published like a Message. The producer's tests pin ``data`` to the model's schema."""

    ce_type: str
    id: str
    key: str
    data: bytes


def encode(
    message: Message | Encoded, *, source: str, time: datetime | None = None, trace: Sequence[tuple[str, bytes]] = ()
) -> tuple[bytes, bytes, Headers]:
    """Return (key, value, headers) for a message; ``trace``: its distributed-tracing headers."""
    if isinstance(message, Encoded):
        ce_type, ce_id, key, data = message
    else:
        ce_type, ce_id, key, data = (
            message.ce_type,
            message.event_id(),
            message.key(),
            message.model_dump_json().encode(),
        )
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_subject", key.encode()),
        ("content-type", CONTENT_TYPE),
    ]
    if time is not None:
        headers.append(("ce_time", time.astimezone(UTC).isoformat().encode()))
    if trace:
        headers += trace
    return key.encode(), data, headers


_READ = {"ce_specversion": 0, "ce_id": 1, "ce_source": 2, "ce_type": 3, "ce_traceparent": 4, "ce_tracestate": 5}
_REQUIRED = tuple(_READ)[:4]


def decode(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    readers: Readers = DEFAULT_READERS,
) -> Envelope:
    """Parse a record; raise DecodeError naming what is wrong."""
    # Only the attributes read are decoded (a record carries six or more headers), and the
    # validator is called directly: this runs once per consumed record in every service.
    attrs: list[str | None] = [None, None, None, None, None, None]
    for name, raw in headers or ():
        i = _READ.get(name)
        if i is not None:
            attrs[i] = raw.decode("utf-8", "replace")
    specversion, ce_id, ce_source, ce_type, traceparent, tracestate = attrs
    if ce_id is None or ce_source is None or ce_type is None or specversion is None:
        missing = next(name for name, got in zip(_REQUIRED, attrs[:4], strict=True) if got is None)
        raise DecodeError(f"missing header {missing}")
    if specversion != "1.0":
        raise DecodeError(f"unsupported specversion {specversion}")
    reader = readers.get(ce_type)
    if reader is None:
        raise DecodeError(f"unknown ce_type {ce_type}")
    if value is None:
        raise DecodeError("empty value")
    try:
        message = reader(value)
    except ValueError as exc:
        raise DecodeError(f"invalid {ce_type} data: {exc}") from exc
    return Envelope(
        ce_id,
        ce_source,
        ce_type,
        message,
        topic,
        partition,
        offset,
        None if key is None else key.decode("utf-8", "replace"),
        traceparent,
        tracestate,
    )


class Record(Protocol):
    """What a Kafka client hands back: aiokafka's ConsumerRecord fits."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    headers: Any


def decode_record(record: Record, readers: Readers = DEFAULT_READERS) -> Envelope:
    """:func:`decode` for a consumed record."""
    return decode(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=record.headers,
        readers=readers,
    )
