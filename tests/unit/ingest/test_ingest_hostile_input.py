"""Hostile input (issue 13, defects 4, 5, 8, 11): each refused event is a 400 naming its field,
its valid siblings in a batch are kept, and nothing reaches a store that would fail on it."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from touchline.ingest.domain import MAX_DEPTH, Limits, RequestInvalid, TimePolicy
from touchline.ingest.payloads import gunzip_capped, load_document, parse_batch, parse_single

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def single(document: dict, kind: str = "track"):  # type: ignore[no-untyped-def]
    return parse_single(document, kind=kind, received_at=NOW, policy=TimePolicy(), limits=Limits())


def batch(document: dict):  # type: ignore[no-untyped-def]
    return parse_batch(document, received_at=NOW, policy=TimePolicy(), limits=Limits())


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def only_problem(parsed) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    [rejected] = parsed.rejected
    [problem] = rejected.problems
    return problem.path, problem.message


@pytest.mark.parametrize("trait", ["arr", "mrr", "seats", "seatsPurchased"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1, float(2**64), 1e300, "9223372036854775808", "nan", "inf"])
def test_an_amount_or_count_beyond_2_to_the_53_is_refused_naming_the_trait(trait: str, value: object) -> None:
    parsed = single({"userId": "u", "groupId": "acme", "traits": {trait: value}}, "group")
    path, message = only_problem(parsed)
    assert path == f"$.traits.{trait}" and "at most 2^53" in message


def test_amounts_up_to_2_to_the_53_are_kept() -> None:
    parsed = single({"userId": "u", "groupId": "acme", "traits": {"mrr": 2**53, "seats": 2**53}}, "group")
    assert parsed.calls[0].traits["seats"] == 2**53 and parsed.calls[0].traits["mrr"] == float(2**53)


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [("9999-12-31T00:00:00Z", "2000-01-01T00:00:00Z"), ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")],
)
def test_a_clock_skew_correction_past_the_calendar_is_refused_naming_timestamp(timestamp: str, sent_at: str) -> None:
    parsed = single({"userId": "u", "event": "e", "timestamp": timestamp, "sentAt": sent_at})
    path, message = only_problem(parsed)
    assert path == "$.timestamp" and "too far apart" in message


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_whose_offset_leaves_the_calendar_is_refused(moment: str) -> None:
    assert only_problem(single({"userId": "u", "event": "e", "timestamp": moment}))[0] == "$.timestamp"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 255, 600, 1000])
def test_an_event_nested_too_deep_is_refused_naming_the_field(levels: int) -> None:
    body = b'{"userId": "u", "event": "e", "properties": {"a": ' + b"[" * levels + b"1" + b"]" * levels + b"}}"
    document = load_document(body, limit=10**6)  # as ingest reads it: orjson takes up to 1,024 levels
    path, message = only_problem(single(document))
    assert path.startswith("$.properties.a[0]") and f"more than {MAX_DEPTH} levels" in message


def test_nesting_up_to_the_limit_is_kept() -> None:
    # properties (1) + a (1) + MAX_DEPTH - 2 arrays: exactly MAX_DEPTH levels inside the event
    parsed = single({"userId": "u", "event": "e", "properties": {"a": nested(MAX_DEPTH - 2)}})
    assert len(parsed.calls) == 1


def test_a_deep_event_in_a_batch_is_refused_and_its_siblings_kept() -> None:
    parsed = batch(
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "kept"},
                {"type": "track", "userId": "u", "event": "deep", "properties": {"x": nested(300)}},
            ]
        }
    )
    assert [c.event for c in parsed.calls] == ["kept"]
    assert parsed.rejected[0].index == 1 and parsed.rejected[0].problems[0].path.startswith("batch[1].properties.x")


def test_a_batch_context_nested_too_deep_refuses_the_request_naming_context() -> None:
    with pytest.raises(RequestInvalid) as caught:
        batch({"context": {"a": nested(900)}, "batch": [{"type": "track", "userId": "u", "event": "e"}]})
    assert caught.value.problem.path.startswith("context.a")


@pytest.mark.parametrize(
    ("kind", "document", "path"),
    [
        ("track", {"userId": "u\x00", "event": "e"}, "$.userId"),
        ("track", {"anonymousId": "\x00", "event": "e"}, "$.anonymousId"),
        ("group", {"userId": "u", "groupId": "ac\x00me"}, "$.groupId"),
        ("group", {"userId": "u", "groupId": "acme", "traits": {"name": "A\x00"}}, "$.traits.name"),
        ("identify", {"userId": "u", "traits": {"nested": {"list": ["ok", "b\x00d"]}}}, "$.traits.nested.list[1]"),
        ("track", {"userId": "u", "event": "e", "properties": {"k\x00": 1}}, "$.properties.k\\u0000"),
    ],
)
def test_a_nul_character_is_refused_naming_its_field(kind: str, document: dict, path: str) -> None:
    found, message = only_problem(single(document, kind))
    assert found == path and "NUL" in message


def test_a_nul_event_in_a_batch_is_refused_and_its_siblings_kept() -> None:
    parsed = batch(
        {
            "batch": [
                {"type": "group", "userId": "u\x00", "groupId": "acme"},
                {"type": "group", "userId": "u", "groupId": "acme", "traits": {"name": "Acme"}},
            ]
        }
    )
    assert [c.user_id for c in parsed.calls] == ["u"]
    assert parsed.rejected[0].problems[0].path == "batch[0].userId"


def test_a_nul_in_the_batch_context_refuses_the_request_naming_it() -> None:
    with pytest.raises(RequestInvalid) as caught:
        batch({"context": {"groupId": "a\x00"}, "batch": []})
    assert caught.value.problem.path == "context.groupId"


def test_an_escaped_backslash_u0000_is_text_not_a_nul_and_is_kept() -> None:
    parsed = single({"userId": "u", "event": "e", "properties": {"k": "\\u0000"}})
    assert parsed.calls[0].properties == {"k": "\\u0000"}


@pytest.mark.parametrize(
    ("kind", "document", "path"),
    [
        ("group", {"userId": "u", "groupId": "acme/eu"}, "$.groupId"),
        ("track", {"userId": "u", "event": "e", "context": {"groupId": "a/b"}}, "$.context.groupId"),
    ],
)
def test_an_account_id_with_a_slash_is_refused_as_unreadable(kind: str, document: dict, path: str) -> None:
    found, message = only_problem(single(document, kind))
    assert found == path and "'/'" in message


def test_gzip_with_trailing_garbage_is_a_400() -> None:
    with pytest.raises(RequestInvalid, match="trailing garbage") as caught:
        gunzip_capped(gzip.compress(b'{"userId": "u"}') + b"junk", limit=1000)
    assert caught.value.status == 400


def test_several_gzip_members_are_one_body() -> None:
    assert gunzip_capped(gzip.compress(b'{"a":') + gzip.compress(b"1}"), limit=1000) == b'{"a":1}'


def test_several_gzip_members_share_one_cap() -> None:
    with pytest.raises(RequestInvalid) as caught:
        gunzip_capped(gzip.compress(b" " * 600) + gzip.compress(b" " * 600), limit=1000)
    assert caught.value.status == 413


def test_an_invalid_original_timestamp_is_refused_even_beside_a_valid_timestamp() -> None:
    parsed = single({"userId": "u", "event": "e", "timestamp": "2027-03-01T11:00:00Z", "originalTimestamp": [1]})
    assert only_problem(parsed)[0] == "$.originalTimestamp"


def test_the_openapi_of_each_call_requires_what_ingest_requires() -> None:
    from touchline.ingest.openapi import call_schema

    assert call_schema("track")["required"] == ["event"]
    assert call_schema("alias")["required"] == ["previousId", "userId"]
    group = call_schema("group")
    assert group["required"] == ["groupId"]
    assert group["properties"]["groupId"]["anyOf"][0]["pattern"] == "^[^/\\u0000]+$"
    assert group["properties"]["traits"]["properties"]["seats"]["maximum"] == 2**53
    assert [option["required"] for option in call_schema("page")["anyOf"]] == [["userId"], ["anonymousId"]]
