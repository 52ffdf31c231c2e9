"""CloudEvents 1.0 binary mode on Kafka: data in the value, attributes as ``ce_*`` headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .messages import REGISTRY, Message

Headers = list[tuple[str, bytes]]
CONTENT_TYPE = b"application/json"


class DecodeError(ValueError):
    """A record that is not a Touchline CloudEvent we can read; it belongs in the DLQ."""


@dataclass(frozen=True)
class Envelope:
    """A decoded record: the message plus where it came from."""

    id: str
    source: str
    type: str
    message: Message
    topic: str
    partition: int
    offset: int
    key: str | None


def encode(message: Message, *, source: str, time: datetime | None = None) -> tuple[bytes, bytes, Headers]:
    """Return (key, value, headers) for a message."""
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", message.event_id().encode()),
        ("ce_source", source.encode()),
        ("ce_type", message.ce_type.encode()),
        ("ce_subject", message.key().encode()),
        ("content-type", CONTENT_TYPE),
    ]
    if time is not None:
        headers.append(("ce_time", time.astimezone(UTC).isoformat().encode()))
    return message.key().encode(), message.model_dump_json().encode(), headers


def decode(
    *, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, headers: Headers
) -> Envelope:
    """Parse a record; raise DecodeError naming what is wrong."""
    attrs = {k: v.decode("utf-8", "replace") for k, v in headers or ()}
    for required in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        if required not in attrs:
            raise DecodeError(f"missing header {required}")
    if attrs["ce_specversion"] != "1.0":
        raise DecodeError(f"unsupported specversion {attrs['ce_specversion']}")
    model = REGISTRY.get(attrs["ce_type"])
    if model is None:
        raise DecodeError(f"unknown ce_type {attrs['ce_type']}")
    if value is None:
        raise DecodeError("empty value")
    try:
        message = model.model_validate_json(value)
    except ValueError as exc:
        raise DecodeError(f"invalid {attrs['ce_type']} data: {exc}") from exc
    return Envelope(
        id=attrs["ce_id"],
        source=attrs["ce_source"],
        type=attrs["ce_type"],
        message=message,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
    )


class Record(Protocol):
    """What a Kafka client hands back: aiokafka's ConsumerRecord fits."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    headers: Any


def decode_record(record: Record) -> Envelope:
    """:func:`decode` for a consumed record."""
    return decode(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
    )
