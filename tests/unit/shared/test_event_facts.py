"""ProductEventFacts (health's msgspec reader of touchline.event.v1) agrees with ProductEvent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchline.health.consumer import READERS
from touchline.shared.cloudevents import DecodeError, decode, encode
from touchline.shared.messages import ProductEvent, ProductEventFacts, read_product_event_facts

_text = st.text(min_size=1, max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))]),
)
_events = st.builds(
    ProductEvent,
    message_id=_text,
    account_id=_text,
    kind=st.sampled_from(["track", "identify", "group", "page", "screen", "alias"]),
    event=st.none() | _text,
    semantic=st.sampled_from(
        ["login", "feature_used", "signed", "renewed", "cancelled", "support_ticket", "webinar_attended", "other"]
    ),
    feature=st.none() | _text,
    user_id=st.none() | _text,
    timestamp=_times,
    received_at=_times,
    properties=st.dictionaries(st.sampled_from(["feature", "plan", "n"]), _json, max_size=3),
    traits=st.dictionaries(_text, _json, max_size=4),
    context=st.dictionaries(_text, _json, max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(_events)
def test_the_facts_read_what_the_model_wrote(event: ProductEvent) -> None:
    facts = read_product_event_facts(event.model_dump_json().encode())
    model = ProductEvent.model_validate_json(event.model_dump_json())
    for name in msgspec.structs.fields(ProductEventFacts):
        if name.name != "properties":
            assert getattr(facts, name.name) == getattr(model, name.name), name.name
    assert facts.properties.feature == model.properties.get("feature")
    assert facts.event_id() == model.event_id()


def test_every_field_has_the_models_name_and_default() -> None:
    for f in msgspec.structs.fields(ProductEventFacts):
        assert f.name in ProductEvent.model_fields, f.name
        model_field = ProductEvent.model_fields[f.name]
        if f.name == "properties":
            continue  # a struct of the one property read, where the model has a dict
        if f.required:
            assert model_field.is_required(), f.name
        elif f.default_factory is not msgspec.NODEFAULT:
            assert f.default_factory() == model_field.get_default(call_default_factory=True), f.name
        else:
            assert f.default == model_field.default, f.name


def test_defaults_apply_when_the_producer_left_fields_out() -> None:
    facts = read_product_event_facts(
        b'{"message_id":"m","account_id":"a","kind":"track","timestamp":"2026-01-02T03:04:05Z",'
        b'"received_at":"2026-01-02T03:04:06+00:00","a_field_added_later":{"x":1}}'
    )
    assert (facts.semantic, facts.feature, facts.user_id, facts.traits, facts.properties.feature) == (
        "other",
        None,
        None,
        {},
        None,
    )
    assert facts.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _record(data: bytes) -> dict[str, object]:
    _, _, headers = encode(
        ProductEvent(
            message_id="m", account_id="a", kind="track", timestamp=datetime.now(UTC), received_at=datetime.now(UTC)
        ),
        source="test",
    )
    return {"topic": "t", "partition": 0, "offset": 7, "key": b"a", "value": data, "headers": headers}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b'{"message_id":"m","kind":"track","timestamp":"2026-01-02T03:04:05Z","received_at":"2026-01-02T03:04:05Z"}', "account_id"),
        (b'{"message_id":"m","account_id":"a","kind":"shout","timestamp":"2026-01-02T03:04:05Z","received_at":"2026-01-02T03:04:05Z"}', "kind"),
        (b'{"message_id":"m","account_id":"a","kind":"track","timestamp":"yesterday","received_at":"2026-01-02T03:04:05Z"}', "timestamp"),
        (b'{"message_id":"m","account_id":"a","kind":"track","timestamp":"2026-01-02T03:04:05Z","received_at":"2026-01-02T03:04:05Z","properties":null}', "properties"),
        (b'{"message_id":"m","account_id":"a","kind":"track","timestamp":"2026-01-02T03:04:05Z","received_at":"2026-01-02T03:04:05Z","user_id":42}', "user_id"),
    ],
)  # fmt: skip
def test_invalid_data_is_a_decode_error_naming_the_field(data: bytes, named: str) -> None:
    with pytest.raises(DecodeError, match=named) as err:
        decode(**_record(data), readers=READERS)  # type: ignore[arg-type]
    assert "touchline.event.v1" in str(err.value)


def test_unreadable_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"invalid touchline\.event\.v1 data"):
        decode(**_record(b'{"message_id": '), readers=READERS)  # type: ignore[arg-type]


def test_the_envelope_carries_the_facts_and_where_they_came_from() -> None:
    env = decode(
        **_record(  # type: ignore[arg-type]
            b'{"message_id":"m","account_id":"a","kind":"track","timestamp":"2026-01-02T03:04:05Z","received_at":"2026-01-02T03:04:05Z"}'
        ),
        readers=READERS,
    )
    assert isinstance(env.message, ProductEventFacts)
    assert (env.id, env.topic, env.partition, env.offset, env.key) == ("m", "t", 0, 7, "a")


def test_the_documented_differences_from_the_model_are_refused_not_misread() -> None:
    base = '{"message_id":"m","account_id":"a","kind":"track","timestamp":%s,"received_at":"2026-01-02T03:04:05Z"%s}'
    for data in (base % ("1767323045", ""), base % ('"2026-01-02T03:04:05Z"', ',"traits":{"x":1e400}')):
        with pytest.raises(DecodeError):
            decode(**_record(data.encode()), readers=READERS)  # type: ignore[arg-type]
