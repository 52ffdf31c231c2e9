"""Validation of Segment calls and batches, and clock-skew correction, as pure functions."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from touchline.ingest.domain import Limits, RequestInvalid, TimePolicy, correct_timestamp, merge_context
from touchline.ingest.payloads import gunzip_capped, load_document, parse_batch, parse_single

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
POLICY = TimePolicy()
LIMITS = Limits()


def single(document: dict, kind: str = "track"):  # type: ignore[no-untyped-def]
    return parse_single(document, kind=kind, received_at=NOW, policy=POLICY, limits=LIMITS)


def batch(document: dict):  # type: ignore[no-untyped-def]
    return parse_batch(document, received_at=NOW, policy=POLICY, limits=LIMITS)


def test_a_track_call_keeps_its_fields_and_records_received_at() -> None:
    parsed = single({"userId": 42, "event": "Signed In", "properties": {"a": 1}, "messageId": "m-1"})
    call = parsed.calls[0]
    assert (call.user_id, call.event, call.message_id, call.properties) == ("42", "Signed In", "m-1", {"a": 1})
    assert call.received_at == NOW and call.timestamp == NOW


def test_every_problem_is_reported_with_its_field_path() -> None:
    parsed = single({"properties": [], "timestamp": "yesterday"})
    paths = {p.path for p in parsed.rejected[0].problems}
    assert paths == {"$.userId", "$.event", "$.properties", "$.timestamp"}


def test_group_needs_a_group_id_and_alias_a_previous_id() -> None:
    assert single({"userId": "u"}, "group").rejected[0].problems[0].path == "$.groupId"
    assert single({"userId": "u"}, "alias").rejected[0].problems[0].path == "$.previousId"


def test_a_message_id_over_100_characters_is_refused() -> None:
    parsed = single({"userId": "u", "event": "e", "messageId": "m" * 101})
    assert parsed.rejected[0].problems[0].path == "$.messageId"


def test_a_missing_message_id_is_derived_from_the_content_so_retries_dedup() -> None:
    first = single({"userId": "u", "event": "e", "timestamp": "2027-03-01T11:00:00Z"}).calls[0]
    again = single({"userId": "u", "event": "e", "timestamp": "2027-03-01T11:00:00Z"}).calls[0]
    other = single({"userId": "u", "event": "f", "timestamp": "2027-03-01T11:00:00Z"}).calls[0]
    assert first.message_id == again.message_id != other.message_id


def test_identical_calls_without_message_id_or_timestamp_received_apart_are_two_events() -> None:
    doc = {"userId": "u", "event": "Signed In"}
    first = parse_single(doc, kind="track", received_at=NOW, policy=POLICY, limits=LIMITS).calls[0]
    later = parse_single(doc, kind="track", received_at=NOW + timedelta(hours=1), policy=POLICY, limits=LIMITS).calls[0]
    same_instant = parse_single(doc, kind="track", received_at=NOW, policy=POLICY, limits=LIMITS).calls[0]
    assert first.message_id != later.message_id
    assert first.message_id == same_instant.message_id


def test_the_write_key_never_travels_with_the_event() -> None:
    call = single({"userId": "u", "event": "e", "writeKey": "secret"}).calls[0]
    assert "secret" not in repr(call)


def test_a_single_event_over_32_kb_is_a_413_naming_the_size() -> None:
    with pytest.raises(RequestInvalid) as caught:
        single({"userId": "u", "event": "e", "properties": {"blob": "x" * 33_000}})
    assert caught.value.status == 413 and "limit 32768" in caught.value.problem.message


def test_a_batch_keeps_valid_siblings_and_names_failing_indices() -> None:
    parsed = batch(
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "ok"},
                {"type": "track", "userId": "u"},
                {"type": "bogus", "userId": "u"},
                {"type": "track", "userId": "u", "event": "big", "properties": {"blob": "x" * 33_000}},
                {"type": "identify", "anonymousId": "a"},
            ]
        }
    )
    assert [c.index for c in parsed.calls] == [0, 4]
    assert {r.index: r.problems[0].path for r in parsed.rejected} == {
        1: "batch[1].event",
        2: "batch[2].type",
        3: "batch[3]",
    }
    assert parsed.rejected[2].problems[0].reason == "too_large"


def test_a_batch_over_2500_events_is_refused_whole() -> None:
    with pytest.raises(RequestInvalid) as caught:
        batch({"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501})
    assert caught.value.status == 400 and "2501 events, limit 2500" in str(caught.value)


def test_a_batch_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(RequestInvalid, match="batch: expected an array"):
        batch({"batch": {"type": "track"}})


def test_outer_batch_context_is_merged_into_each_event_with_the_event_winning() -> None:
    parsed = batch(
        {
            "context": {"library": {"name": "py", "version": "1"}, "groupId": "acme"},
            "batch": [{"type": "track", "userId": "u", "event": "e", "context": {"library": {"version": "2"}}}],
        }
    )
    assert parsed.calls[0].context == {"library": {"name": "py", "version": "2"}, "groupId": "acme"}


def test_merge_context_does_not_change_its_inputs() -> None:
    outer = {"a": {"b": 1}}
    merge_context(outer, {"a": {"c": 2}})
    assert outer == {"a": {"b": 1}}


def test_skew_is_corrected_from_sent_at() -> None:
    # The device clock runs one hour fast: sentAt says 13:00 when the server receives at 12:00.
    parsed = single(
        {"userId": "u", "event": "e", "timestamp": "2027-03-01T12:50:00Z", "sentAt": "2027-03-01T13:00:00Z"}
    )
    assert parsed.calls[0].timestamp == NOW - timedelta(minutes=10)


def test_batch_sent_at_corrects_every_event() -> None:
    parsed = batch(
        {
            "sentAt": "2027-03-01T11:00:00Z",
            "batch": [{"type": "track", "userId": "u", "event": "e", "timestamp": "2027-03-01T10:59:00Z"}],
        }
    )
    assert parsed.calls[0].timestamp == NOW - timedelta(minutes=1)


def test_without_timestamp_the_event_happened_when_received() -> None:
    assert correct_timestamp(timestamp=None, sent_at=None, received_at=NOW, policy=POLICY, path="t") == (NOW, None)


def test_a_time_in_the_future_is_clamped_to_received_at_and_the_original_kept() -> None:
    parsed = single({"userId": "u", "event": "e", "timestamp": "2030-01-01T00:00:00Z"})
    call = parsed.calls[0]
    assert call.timestamp == NOW
    assert call.context["touchline"]["clamped_from"].startswith("2030-01-01")


def test_a_time_older_than_the_maximum_age_is_rejected() -> None:
    parsed = single({"userId": "u", "event": "e", "timestamp": "1990-01-01T00:00:00Z"})
    problem = parsed.rejected[0].problems[0]
    assert (problem.path, problem.reason) == ("$.timestamp", "timestamp")


def test_a_naive_timestamp_is_taken_as_utc() -> None:
    parsed = single({"userId": "u", "event": "e", "timestamp": "2027-03-01T11:00:00"})
    assert parsed.calls[0].timestamp == NOW - timedelta(hours=1)


def test_gzip_bodies_are_decompressed() -> None:
    body = orjson.dumps({"userId": "u"})
    assert gunzip_capped(gzip.compress(body), limit=1000) == body


def test_a_gzip_bomb_stops_at_the_cap() -> None:
    with pytest.raises(RequestInvalid) as caught:
        gunzip_capped(gzip.compress(b" " * 10_000_000), limit=500 * 1024)
    assert caught.value.status == 413


def test_a_body_that_claims_gzip_but_is_not_is_a_400() -> None:
    with pytest.raises(RequestInvalid, match="not"):
        gunzip_capped(b"{}", limit=1000)


@pytest.mark.parametrize(("body", "message"), [(b"", "empty body"), (b"{", "not valid JSON"), (b"[]", "JSON object")])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(RequestInvalid, match=message):
        load_document(body, limit=1000)


def test_identify_traits_sent_only_in_context_are_read_as_rudderstack_does() -> None:
    parsed = single({"userId": "u", "context": {"traits": {"email": "a@b.co"}}}, "identify")
    assert parsed.calls[0].traits == {"email": "a@b.co"}
