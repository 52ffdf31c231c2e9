from datetime import UTC, datetime, timedelta

import pytest

from touchline.shared import topics
from touchline.shared.clock import SimulatedClock, parse_duration, parse_instant
from touchline.shared.cloudevents import DecodeError, decode, encode
from touchline.shared.messages import ClockSet, Command, HealthScored, Outcome, ProductEvent, Recipients, TaskSpec
from touchline.shared.settings import CommonSettings

NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _event(**overrides: object) -> ProductEvent:
    fields: dict[str, object] = dict(
        message_id="m-1",
        account_id="acme",
        kind="track",
        event="Signed In",
        semantic="login",
        timestamp=NOW,
        received_at=NOW,
    )
    fields.update(overrides)
    return ProductEvent(**fields)  # type: ignore[arg-type]


def _roundtrip(message: object) -> object:
    key, value, headers = encode(message, source="touchline/test", time=NOW)  # type: ignore[arg-type]
    return decode(topic="t", partition=2, offset=7, key=key, value=value, headers=headers)


def test_every_message_survives_the_cloudevents_binary_roundtrip() -> None:
    messages = [
        _event(),
        HealthScored(score_id="s1", account_id="acme", score=71.5, band="healthy", computed_at=NOW),
        Command(
            command_id="c1",
            account_id="acme",
            channel="task",
            task=TaskSpec(type="t", reason="r", subject="s"),
            recipients=Recipients(role="csm_owner"),
            dedup_key="d",
            issued_at=NOW,
        ),
        Outcome(
            outcome_id="o1",
            account_id="acme",
            kind="inapp.answered",
            answer={"survey": "nps", "score": 9},
            occurred_at=NOW,
        ),
        ClockSet(now=NOW),
    ]
    for message in messages:
        envelope = _roundtrip(message)
        assert envelope.message == message  # type: ignore[attr-defined]
        assert envelope.type == message.ce_type  # type: ignore[attr-defined]


def test_records_are_keyed_by_account_and_carry_required_ce_headers() -> None:
    key, _, headers = encode(_event(account_id="acme-42"), source="touchline/ingest", time=NOW)
    names = dict(headers)
    assert key == b"acme-42"
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_id"] == b"m-1"
    assert names["ce_source"] == b"touchline/ingest"
    assert names["ce_type"] == b"touchline.event.v1"
    assert names["content-type"] == b"application/json"


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"{}", "missing header ce_specversion"),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"nope.v9")],
            b"{}",
            "unknown ce_type",
        ),
        (
            [("ce_specversion", b"0.3"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"touchline.event.v1")],
            b"{}",
            "unsupported specversion",
        ),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"touchline.event.v1")],
            b"not json",
            "invalid touchline.event.v1",
        ),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"touchline.event.v1")],
            None,
            "empty value",
        ),
    ],
)
def test_unreadable_records_raise_a_decode_error_naming_the_problem(
    headers: list[tuple[str, bytes]], value: bytes | None, reason: str
) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(topic="t", partition=0, offset=0, key=None, value=value, headers=headers)


def test_durations_and_instants_parse_the_way_the_clock_cli_documents() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_instant("2027-01-01T09:00Z") == NOW
    assert parse_instant("2027-01-01T09:00") == NOW
    with pytest.raises(ValueError, match="expected a number"):
        parse_duration("thirty days")


async def test_simulated_clock_only_moves_when_told_and_wakes_its_waiters() -> None:
    clock = SimulatedClock(start=NOW)
    assert clock.now() == NOW
    clock.set(NOW + timedelta(days=90))
    await clock.changed(timeout=0.01)  # returns at once: time moved
    assert clock.now() == NOW + timedelta(days=90)


def test_dev_secrets_are_refused_outside_dev_and_test() -> None:
    with pytest.raises(ValueError, match="api_token: a dev default secret is not allowed when env=prod"):
        CommonSettings(env="prod")
    with pytest.raises(ValueError, match="api_token: must not be empty when env=prod"):
        CommonSettings(env="prod", api_token="  ")
    with pytest.raises(ValueError, match="api_token: must be at least 16 characters when env=prod"):
        CommonSettings(env="prod", api_token="short-secret")
    assert CommonSettings(env="prod", api_token="a-real-secret-of-32-characters!!").env == "prod"
    assert CommonSettings(env="dev").api_token.get_secret_value().startswith("dev-")


def test_topic_prefix_isolates_names_and_every_topic_has_a_dlq_name() -> None:
    assert topics.name(topics.EVENTS, "t1.") == "t1.touchline.events"
    assert topics.dlq_name("t1.touchline.events") == "t1.touchline.events.dlq"
    assert topics.CLOCK.partitions == 1
    assert {t.name for t in topics.ALL} == {
        "touchline.events",
        "touchline.health",
        "touchline.commands",
        "touchline.outcomes",
        "touchline.clock",
    }
