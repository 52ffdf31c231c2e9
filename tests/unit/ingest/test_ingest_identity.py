"""Identity resolution: which account an event is keyed by, and what waits for a group call."""

from __future__ import annotations

from datetime import UTC, datetime

from touchline.ingest.domain import Call
from touchline.ingest.identity import plan_routes

NOW = datetime(2027, 3, 1, tzinfo=UTC)


def call(index: int, kind: str = "track", **fields: object) -> Call:
    return Call(index=index, kind=kind, message_id=f"m{index}", timestamp=NOW, received_at=NOW, **fields)  # type: ignore[arg-type]


def test_context_group_id_decides_the_account() -> None:
    plan = plan_routes([call(0, user_id="u", context={"groupId": "acme"})], known={"u:u": "other"})
    assert [r.account_id for r in plan.publish] == ["acme"]
    assert plan.links == {}


def test_a_known_user_is_keyed_by_its_mapped_account() -> None:
    plan = plan_routes([call(0, user_id="u")], known={"u:u": "acme"})
    assert [r.account_id for r in plan.publish] == ["acme"] and not plan.park


def test_an_unknown_user_is_parked_not_dropped() -> None:
    plan = plan_routes([call(0, user_id="u", anonymous_id="a")], known={})
    assert not plan.publish
    assert [p.keys for p in plan.park] == [("u:u", "a:a")]


def test_a_group_call_links_the_user_and_releases_what_it_parked() -> None:
    plan = plan_routes([call(0, "group", user_id="u", anonymous_id="a", group_id="acme")], known={})
    assert [r.account_id for r in plan.publish] == ["acme"]
    assert plan.links == {"u:u": "acme", "a:a": "acme"}
    assert plan.release == {"u:u", "a:a"}


def test_a_group_later_in_the_same_batch_routes_the_earlier_events_in_order() -> None:
    plan = plan_routes(
        [call(0, user_id="u"), call(1, "group", user_id="u", group_id="acme"), call(2, user_id="u")], known={}
    )
    assert [(r.call.index, r.account_id) for r in plan.publish] == [(0, "acme"), (1, "acme"), (2, "acme")]
    assert not plan.park


def test_regrouping_a_user_moves_it_to_the_new_account() -> None:
    plan = plan_routes([call(0, "group", user_id="u", group_id="beta"), call(1, user_id="u")], known={"u:u": "acme"})
    assert [r.account_id for r in plan.publish] == ["beta", "beta"]
    assert plan.links == {"u:u": "beta"}


def test_a_repeated_group_call_does_not_relink_but_still_releases() -> None:
    plan = plan_routes([call(0, "group", user_id="u", group_id="acme")], known={"u:u": "acme"})
    assert plan.links == {} and plan.release == {"u:u"}


def test_an_anonymous_visitor_who_logs_in_is_linked_through_the_user() -> None:
    plan = plan_routes([call(0, user_id="u", anonymous_id="a")], known={"u:u": "acme"})
    assert plan.links == {"a:a": "acme"} and plan.release == {"a:a"}


def test_alias_resolves_through_the_previous_id() -> None:
    plan = plan_routes([call(0, "alias", user_id="new", previous_id="old")], known={"u:old": "acme"})
    assert [r.account_id for r in plan.publish] == ["acme"]
    assert plan.links == {"u:new": "acme"}


def test_an_event_routed_by_context_does_not_teach_the_map() -> None:
    plan = plan_routes([call(0, user_id="u", context={"groupId": "acme"})], known={})
    assert plan.links == {} and [r.account_id for r in plan.publish] == ["acme"]
