"""HttpBackend against stand-in HTTP services answering in the shapes health, touch and notify use."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from touchline.console.clients import HttpBackend, ServiceClient
from touchline.console.models import AccountQuery, TaskQuery
from touchline.console.ports import BackendRefused, BackendUnavailable

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]
HEALTH_ACCOUNT = {
    "account_id": "a1",
    "score": 31.5,
    "computed_score": 55.0,
    "band": "caution",
    "overridden": True,
    "as_of": "2026-11-24T08:00:00+00:00",
    "usage_trend": -0.6,
    "days_since_login": 12,
    "measures": [
        {"measure": "days_since_login", "group": "engagement", "label": "Login recency", "value": 12, "score": 20,
         "weight": 0.5, "contribution": 10.0, "missing": False},
        {"measure": "roi", "group": "roi", "label": "ROI", "value": None, "score": None, "weight": 0,
         "contribution": 0, "missing": True},
    ],
    "explanation": ["Engagement · Login recency = 12 days: scored 20, costs 40.0 pts"],
    "overrides": [
        {"kind": "band", "band": "caution", "reason": "called", "set_by": "aiko@example.com",
         "expires_at": "2026-12-24T00:00:00+00:00", "score": None, "measure": None}
    ],
}  # fmt: skip


def backend(routes: dict[str, Handler], seen: list[httpx.Request] | None = None) -> HttpBackend:
    def service(name: str) -> ServiceClient:
        def handle(request: httpx.Request) -> httpx.Response:
            if seen is not None:
                seen.append(request)
            key = f"{name} {request.method} {request.url.path}"
            if key not in routes:
                return httpx.Response(404, json={"detail": "not found"})
            return routes[key](request)

        return ServiceClient(name, httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url=f"http://{name}"))

    return HttpBackend(health=service("health"), touch=service("touch"), notify=service("notify"))


def ok(body: object) -> Handler:
    return lambda request: httpx.Response(200, json=body)


async def test_the_score_explanation_maps_measures_missing_data_and_the_override() -> None:
    detail = await backend({"health GET /v1/accounts/a1": ok(HEALTH_ACCOUNT)}).score("a1")
    assert detail is not None
    # The measure's name is what the catalogue translates; the scorecard's label is the fallback text.
    assert [c.measure for c in detail.contributions] == ["days_since_login", "roi"]
    assert [c.label for c in detail.contributions] == ["Login recency", "ROI"]
    assert detail.contributions[1].missing and detail.contributions[1].value is None
    assert detail.override and detail.override.band == "caution" and detail.override.by == "aiko@example.com"
    assert detail.computed_score == 55.0 and detail.reasons[0].startswith("Engagement")


async def test_an_account_health_does_not_know_is_none_not_an_error() -> None:
    assert await backend({}).score("ghost") is None
    assert await backend({}).tier("ghost") is None
    assert await backend({}).enrolments("ghost") == []


async def test_an_override_becomes_one_put_per_kind_with_who_and_until() -> None:
    seen: list[httpx.Request] = []
    api = backend({"health PUT /v1/accounts/a1/overrides": ok({})}, seen)
    until = datetime(2026, 12, 24, tzinfo=UTC)
    await api.set_override("a1", score=40, band="caution", reason="r", expires_at=until, by="aiko@example.com")
    bodies = [json.loads(r.content) for r in seen]
    assert [b["kind"] for b in bodies] == ["band", "score"]
    assert bodies[0] == {"kind": "band", "band": "caution", "reason": "r", "set_by": "aiko@example.com",
                         "expires_at": until.isoformat()}  # fmt: skip


async def test_a_refusal_from_a_service_carries_its_message_naming_the_field() -> None:
    detail = [{"loc": ["body", "expires_at"], "msg": "must be in the future", "type": "value_error"}]
    api = backend({"health PUT /v1/accounts/a1/overrides": lambda r: httpx.Response(422, json={"detail": detail})})
    with pytest.raises(BackendRefused) as info:
        await api.set_override("a1", score=None, band="good", reason="r", expires_at=NOW, by="x")
    assert info.value.message == "expires_at: must be in the future" and info.value.status == 422


async def test_a_conflict_from_touch_is_a_refusal() -> None:
    api = backend({"touch POST /v1/enrolments/e1/pause": lambda r: httpx.Response(409, json={"detail": "is paused"})})
    with pytest.raises(BackendRefused, match="is paused"):
        await api.enrolment_action("e1", "pause", by="x")


async def test_a_service_error_or_a_dead_service_is_unavailable() -> None:
    api = backend({"health GET /v1/accounts/a1": lambda r: httpx.Response(503, text="starting")})
    with pytest.raises(BackendUnavailable, match="health"):
        await api.score("a1")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(BackendUnavailable, match="ConnectError"):
        await backend({"notify GET /v1/tasks": refuse}).tasks(TaskQuery())


async def test_ids_cannot_escape_their_path_segment() -> None:
    seen: list[httpx.Request] = []
    await backend({}, seen).score("../v1/trust?x=1")
    assert seen[0].url.raw_path == b"/v1/accounts/..%2Fv1%2Ftrust%3Fx%3D1"


async def test_the_account_list_joins_health_touch_and_notify_per_row() -> None:
    routes = {
        "health GET /clock": ok({"now": NOW.isoformat()}),
        "health GET /v1/accounts": ok({"accounts": [HEALTH_ACCOUNT, {**HEALTH_ACCOUNT, "account_id": "a2"}]}),
        "health GET /v1/accounts/a1/history": ok(
            {
                "history": [
                    {"computed_at": "2026-11-20T00:00:00+00:00", "score": 50, "band": "healthy"},
                    {"computed_at": "2026-11-10T00:00:00+00:00", "score": 70, "band": "good"},
                ]
            }
        ),
        "touch GET /v1/accounts/a1": ok(
            {
                "account_id": "a1",
                "traits": {"name": "Hikari", "csm_owner": "aiko@x.io", "renewal_date": "2027-03-31"},
                "tier": {"tier": "high", "rule": "strategic", "phase": "retention", "reason": "ARR ≥ 10M"},
            }
        ),
        "notify GET /v1/tasks": ok({"tasks": [{"id": "t1", "account_id": "a1"}]}),
    }
    page = await backend(routes).list_accounts(AccountQuery(band="caution", limit=1))
    row = page.items[0]
    assert page.has_next and len(page.items) == 1
    assert (row.tier, row.phase, row.open_tasks, row.trend) == ("high", "retention", 1, [70.0, 50.0])
    assert (row.name, row.owner, str(row.renewal_date)) == ("Hikari", "aiko@x.io", "2027-03-31")


async def test_the_team_inbox_asks_notify_once_per_owner_and_orders_by_priority() -> None:
    def tasks(request: httpx.Request) -> httpx.Response:
        owner = request.url.params["owner"]
        priority = "low" if owner == "a@x.io" else "urgent"
        return httpx.Response(
            200, json={"tasks": [{"id": owner, "account_id": "a1", "priority": priority, "owner": owner}]}
        )

    page = await backend({"notify GET /v1/tasks": tasks}).tasks(TaskQuery(owners=("a@x.io", "b@x.io")))
    assert [t.owner for t in page.items] == ["b@x.io", "a@x.io"]


async def test_task_actions_use_notifys_body_shapes() -> None:
    seen: list[httpx.Request] = []
    routes = {f"notify POST /v1/tasks/t1/{a}": ok({}) for a in ("complete", "snooze", "comment", "assign")}
    api = backend(routes, seen)
    await api.task_action("t1", "complete", {"close_reason": "resolved", "note": "done"}, by="x")
    await api.task_action("t1", "snooze", {"until": NOW}, by="x")
    await api.task_action("t1", "comment", {"text": "hi"}, by="x")
    await api.task_action("t1", "assign", {"owner": "b@x.io"}, by="x")
    assert [json.loads(r.content) for r in seen] == [
        {"reason": "resolved: done", "status": "completed"},
        {"until": NOW.isoformat()},
        {"body": "hi", "author": "x"},
        {"owner": "b@x.io"},
    ]


async def test_the_timeline_names_what_happened_to_mails_in_app_messages_and_tasks() -> None:
    items = [
        {"type": "email", "at": "2026-11-23T00:00:00+00:00", "subject": "Welcome", "opened_at": "x", "clicked_at": "y"},
        {"type": "in_app", "at": "2026-11-22T00:00:00+00:00", "title": "NPS", "answered_at": "z",
         "answer": {"survey": "nps", "score": 9, "comment": "良い"}},
        {"type": "task", "at": "2026-11-21T00:00:00+00:00", "subject": "Call", "status": "completed",
         "close_reason": "resolved"},
    ]  # fmt: skip
    timeline = await backend({"notify GET /v1/accounts/a1/timeline": ok({"items": items})}).timeline("a1", limit=10)
    assert [i.kind for i in timeline] == ["email.clicked", "inapp.answered", "task.completed"]
    assert "score: 9" in timeline[1].detail and "良い" in timeline[1].detail


async def test_feedback_without_notifys_answer_listing_is_refused_plainly() -> None:
    with pytest.raises(BackendRefused, match="answer listing"):
        await backend({}).survey_answers(since=NOW)


def _notify_answers(answers: list[dict], seen: list[dict]) -> Handler:
    """notify's GET /v1/answers: newest first, paged by limit/offset, with the total."""

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        offset, limit = int(params["offset"]), int(params["limit"])
        mine = [a for a in answers if a["answer"].get("survey") == params["survey"]]
        return httpx.Response(200, json={"answers": mine[offset : offset + limit], "total": len(mine)})

    return handle


def _listed(n: int, *, score: int = 8, channel: str = "in_app", comment: str = "") -> dict:
    return {"id": f"m{n}", "channel": channel, "account_id": f"a{n % 7}", "user_id": f"u{n}", "survey": "nps",
            "score": score, "comment": comment, "answer": {"survey": "nps", "score": score, "comment": comment},
            "answered_at": "2026-11-20T10:00:00+00:00"}  # fmt: skip


async def test_feedback_reads_every_page_of_notifys_nps_answers_since_the_period_start() -> None:
    answers = [_listed(n, comment="画面が使いにくい" if n == 0 else "") for n in range(2345)]
    seen: list[dict] = []
    got = await backend({"notify GET /v1/answers": _notify_answers(answers, seen)}).survey_answers(since=NOW)
    assert len(got) == 2345 and len({(a.account_id, a.user_id) for a in got}) == 2345
    assert {p["since"] for p in seen} == {NOW.isoformat()}
    nps_pages = sorted(int(p["offset"]) for p in seen if p["survey"] == "nps")
    assert nps_pages == [0, 1000, 2000]
    assert {p["survey"] for p in seen} == {"nps", "satisfaction", "feature_usefulness"}
    first = next(a for a in got if a.user_id == "u0")
    assert first.score == 8 and first.comment == "画面が使いにくい" and first.at.year == 2026


async def test_an_answer_repeated_across_pages_counts_once_and_non_nps_answers_are_dropped() -> None:
    # notify answers each survey's query with that survey only; a renewal answer is not feedback.
    answers = [_listed(n) for n in range(1000)] + [_listed(999), _listed(5000, channel="email")]
    answers[3] = {**answers[3], "answer": {"survey": "renewal", "choice": "likely"}}
    seen: list[dict] = []
    got = await backend({"notify GET /v1/answers": _notify_answers(answers, seen)}).survey_answers(since=NOW)
    assert len(got) == 1000  # 1000 distinct nps answers listed + 1 email, minus the renewal one
    assert {a.survey for a in got} == {"nps"}
    assert sum(1 for a in got if a.user_id == "u999") == 1


async def test_notify_refusing_the_answer_query_is_shown_with_the_field() -> None:
    refuse = lambda request: httpx.Response(422, json={"detail": "since: give a time zone"})  # noqa: E731
    with pytest.raises(BackendRefused, match="since: give a time zone"):
        await backend({"notify GET /v1/answers": refuse}).survey_answers(since=NOW)


async def test_feedback_reads_satisfaction_exit_and_feature_answers_beside_nps() -> None:
    listed = [
        {"id": "s1", "channel": "in_app", "account_id": "a1", "user_id": "u1", "template": "churn.exit_survey",
         "answer": {"survey": "satisfaction", "score": 2, "comment": "too slow"}, "answered_at": "2026-11-20T10:00:00+00:00"},
        {"id": "f1", "channel": "email", "account_id": "a2", "user_id": "u2", "template": "risk.feature_survey",
         "answer": {"survey": "feature_usefulness", "features": ["reports"]}, "answered_at": "2026-11-21T10:00:00+00:00"},
    ]  # fmt: skip
    got = await backend({"notify GET /v1/answers": _notify_answers(listed, [])}).survey_answers(since=NOW)
    by_id = {a.account_id: a for a in got}
    assert by_id["a1"].survey == "satisfaction" and by_id["a1"].template == "churn.exit_survey"
    assert by_id["a1"].score == 2 and by_id["a1"].comment == "too slow"
    assert by_id["a2"].score is None and by_id["a2"].features == ("reports",)


async def test_the_timeline_shows_milestones_with_their_scope() -> None:
    items = [
        {"channel": "milestone", "type": "milestone", "at": "2026-11-20T00:00:00+00:00", "id": "m1", "kind": "release",
         "title": "v2.4", "account_id": None},
        {"channel": "milestone", "type": "milestone", "at": "2026-11-19T00:00:00+00:00", "id": "m2", "kind": "training",
         "title": "Admin training", "account_id": "a1"},
    ]  # fmt: skip
    timeline = await backend({"notify GET /v1/accounts/a1/timeline": ok({"items": items})}).timeline("a1", limit=10)
    assert [(i.kind, i.summary, i.detail) for i in timeline] == [
        ("milestone.release", "v2.4", "all accounts"),
        ("milestone.training", "Admin training", ""),
    ]


async def test_usage_around_a_milestone_asks_health_with_its_scope_and_maps_both_sides() -> None:
    seen: list[httpx.Request] = []
    body = {"measure": "active_users_ratio", "at": NOW.isoformat(), "days": 30, "account_id": "a1",
            "before": {"mean": 0.4, "accounts": 1, "rows": 12}, "after": {"mean": None, "accounts": 0, "rows": 0},
            "change": None}  # fmt: skip
    b = backend({"health GET /v1/usage/around": ok(body)}, seen)
    usage = await b.usage_around(at=NOW, days=30, account_id="a1")
    assert (usage.before, usage.after, usage.accounts_before, usage.accounts_after, usage.change) == (
        0.4,
        None,
        1,
        0,
        None,
    )
    assert dict(seen[0].url.params) == {"at": NOW.isoformat(), "days": "30", "account_id": "a1"}
    await b.usage_around(at=NOW, days=30, account_id=None)
    assert "account_id" not in seen[1].url.params
    with pytest.raises(BackendRefused, match="/v1/usage/around"):
        await backend({}).usage_around(at=NOW, days=30, account_id=None)
