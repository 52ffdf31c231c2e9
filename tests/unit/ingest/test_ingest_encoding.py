"""The fast path (plain dicts, orjson) produces exactly the contract's ProductEvent CloudEvent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from touchline.ingest.adapters.kafka import encode
from touchline.ingest.domain import Call
from touchline.ingest.semantics import event_document
from touchline.shared.cloudevents import decode
from touchline.shared.cloudevents import encode as shared_encode
from touchline.shared.messages import ProductEvent

NOW = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)


def sample(kind: str = "track") -> dict[str, object]:
    call = Call(
        index=0,
        kind=kind,  # type: ignore[arg-type]
        message_id="m-1",
        timestamp=NOW,
        received_at=NOW,
        user_id="u",
        event="Report Exported" if kind == "track" else None,
        properties={"feature": "reports", "n": 3, "nested": {"a": [1, 2.5, None, True]}},
        context={"groupId": "acme", "locale": "ja-JP"},
    )
    return event_document(call, account_id="acme", source="product")


def test_the_document_has_exactly_the_fields_of_the_contract() -> None:
    assert set(sample()) == set(ProductEvent.model_fields)
    for kind in ("track", "identify", "group", "page", "screen", "alias"):
        ProductEvent.model_validate(sample(kind))


def test_the_orjson_cloudevent_decodes_to_the_same_message_as_the_shared_codec() -> None:
    doc = sample()
    event = ProductEvent.model_validate(doc)
    key, value, headers = encode(doc)
    ours = decode(topic="t", partition=0, offset=0, key=key, value=value, headers=headers)
    shared_key, shared_value, shared_headers = shared_encode(event, source="touchline/ingest/product", time=NOW)
    theirs = decode(topic="t", partition=0, offset=0, key=shared_key, value=shared_value, headers=shared_headers)
    assert ours.message == theirs.message == event
    assert (ours.id, ours.source, ours.type, ours.key) == (theirs.id, theirs.source, theirs.type, theirs.key)
    assert dict(headers) == dict(shared_headers)


def test_ce_time_is_written_as_the_shared_codec_writes_it_whatever_the_offset() -> None:
    moments = [
        NOW,
        NOW.replace(microsecond=123456),
        datetime(2027, 3, 1, 21, 30, tzinfo=timezone(timedelta(hours=9))),
        datetime(2027, 3, 1, 7, 0, 0, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2027, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=15))),
    ]
    for moment in moments:
        doc = {**sample(), "timestamp": moment}
        event = ProductEvent.model_validate(doc)
        _, _, headers = encode(doc)
        _, _, shared_headers = shared_encode(event, source="touchline/ingest/product", time=moment)
        assert dict(headers)["ce_time"] == dict(shared_headers)["ce_time"]
