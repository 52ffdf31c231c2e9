"""The feedback page's survey groups, hidden-value flags and milestones, through ASGI on the in-memory backend."""

from __future__ import annotations

from datetime import timedelta

import httpx
import test_console_views as views
from test_console_views import NOW, csrf_of, sign_in

from touchline.console.fake import InMemoryBackend
from touchline.console.models import Milestone, SurveyAnswer, UsageAround
from touchline.console.ports import BackendRefused

backend, client = views.backend, views.client  # the views tests' fixtures: the demo backend and a console on it


def said(account: str, survey: str, score: int | None, comment: str = "", **kw) -> SurveyAnswer:
    return SurveyAnswer(account_id=account, at=NOW - timedelta(days=3), score=score, comment=comment,
                        user_id=f"u-{account}-{survey}", survey=survey, **kw)  # fmt: skip


async def test_the_page_shows_exit_and_feature_groups_and_flags_value_not_realised(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    backend.answers[:] = [  # only these: the demo's own answers would fill the same groups
        said("acc-hidden", "nps", 2, "高い"),
        said("acc-hidden", "feature_usefulness", None, "レポートは便利", features=("reports",)),
        said("acc-gone", "satisfaction", 1, "too slow", template="churn.exit_survey"),
    ]
    await sign_in(client)
    page = (await client.get("/feedback")).text
    assert 'data-kind="exit" data-group="dissatisfied"' in page
    assert 'data-kind="feature_usefulness" data-group="features_named"' in page
    assert "不満 (1–2)" in page and "解約時アンケート" in page  # the CSM's language (Aiko reads Japanese)
    hidden = page.split('id="hidden-value"')[1].split("</section>")[0]
    assert "acc-hidden" in hidden and "reports" in hidden and "acc-gone" not in hidden


async def test_milestones_are_listed_with_nps_before_and_after(client: httpx.AsyncClient, backend: InMemoryBackend):
    backend.milestone_list.append(
        Milestone("m1", "release", "v2.4 reports", NOW - timedelta(days=10), None, "event", -20.0, 15.0, 5, 4)
    )
    await sign_in(client)
    row = (await client.get("/feedback")).text.split('data-milestone="m1"')[1].split("</tr>")[0]
    assert "v2.4 reports" in row and "-20" in row and "+15" in row


async def test_a_csm_adds_a_milestone_and_bad_input_is_refused_naming_the_field(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await sign_in(client)
    token = await csrf_of(client, "/feedback")
    before = len(backend.milestone_list)  # the demo's
    form = {"csrf": token, "kind": "training", "title": "Admin training", "day": "2026-11-20", "account_id": "acc-1"}
    added = await client.post("/feedback/milestones", data=form)
    assert added.status_code == 303 and "msg=milestone_added" in added.headers["location"]
    (m,) = backend.milestone_list[before:]
    assert (m.kind, m.title, m.account_id, m.occurred_at.day) == ("training", "Admin training", "acc-1", 20)
    for field, value in (("kind", "party"), ("title", " "), ("day", "20/11/2026")):
        refused = await client.post("/feedback/milestones", data={**form, field: value})
        assert refused.status_code == 303 and "err=" in refused.headers["location"]
        assert field in httpx.URL(refused.headers["location"]).params["err"]
    assert len(backend.milestone_list) == before + 1


async def test_a_team_subscribes_to_a_theme_sees_the_secret_once_and_can_stop(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await sign_in(client)
    token = await csrf_of(client, "/feedback")
    form = {
        "csrf": token,
        "theme": "usability",
        "team": "product-ux",
        "kind": "standard",
        "url": "https://hooks.test/ux",
    }
    created = await client.post("/feedback/subscriptions", data=form)
    assert created.status_code == 200 and "whsec_ZmFrZS1zZWNyZXQ=" in created.text
    (sub,) = backend.subscriptions
    assert (sub.theme, sub.team, sub.kind, sub.url) == ("usability", "product-ux", "standard", "https://hooks.test/ux")
    page = (await client.get("/feedback")).text
    assert f'data-subscription="{sub.id}"' in page and "whsec_" not in page
    slack = await client.post("/feedback/subscriptions", data={**form, "kind": "slack"})
    assert slack.status_code == 303 and "msg=subscribed" in slack.headers["location"]
    stopped = await client.post(f"/feedback/subscriptions/{sub.id}/delete", data={"csrf": token})
    assert stopped.status_code == 303 and [s.kind for s in backend.subscriptions] == ["slack"]


async def test_a_bad_subscription_is_refused_naming_the_field(client: httpx.AsyncClient, backend: InMemoryBackend):
    await sign_in(client)
    token = await csrf_of(client, "/feedback")
    form = {"csrf": token, "theme": "usability", "team": "ux", "kind": "standard", "url": "https://hooks.test/ux"}
    for field, value in (("theme", "nope"), ("kind", "sms"), ("team", ""), ("url", "ftp://x")):
        refused = await client.post("/feedback/subscriptions", data={**form, field: value})
        assert refused.status_code == 303 and field in httpx.URL(refused.headers["location"]).params["err"]
    assert backend.subscriptions == []


async def test_milestones_show_usage_before_and_after_from_health(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    release_at, training_at = NOW - timedelta(days=10), NOW - timedelta(days=40)
    backend.milestone_list[:] = [
        Milestone("m1", "release", "v2.4 reports", release_at, None, "event", -20.0, 15.0, 5, 4),
        Milestone("m2", "training", "Admin training", training_at, "acc-1", "csm"),
        Milestone("old", "release", "v1.0", NOW - timedelta(days=400), None, "event"),  # outside the period
    ]
    backend.usage[(release_at, None)] = UsageAround(before=0.30, after=0.45, accounts_before=12, accounts_after=11)
    backend.usage[(training_at, "acc-1")] = UsageAround(before=0.5, after=None, accounts_before=1)
    await sign_in(client)
    page = (await client.get("/feedback")).text
    release = page.split('data-milestone="m1"')[1].split("</tr>")[0]
    assert "-20" in release and "+15" in release  # the NPS beside it
    usage = release.split('class="usage"')[1]
    assert "30% → 45%" in usage and "+15" in usage and "(12 / 11)" in usage
    training = page.split('data-milestone="m2"')[1].split("</tr>")[0].split('class="usage"')[1]
    assert "50% → –" in training and "(1 / 0)" in training and "+" not in training  # no change without an after
    # One read per milestone shown, over the NPS window, scoped like the milestone; none for "old".
    assert sorted(backend.usage_asked, key=lambda a: a[0]) == [(training_at, 30, "acc-1"), (release_at, 30, None)]


async def test_milestones_still_show_their_nps_when_health_refuses_the_usage(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    backend.milestone_list[:] = [Milestone("m1", "release", "v2.4", NOW - timedelta(days=10), None, "event", 10.0)]

    async def refused(**_: object) -> UsageAround:
        raise BackendRefused("health", 501, "usage around milestones needs health's GET /v1/usage/around")

    backend.usage_around = refused  # type: ignore[method-assign]
    await sign_in(client)
    page = (await client.get("/feedback")).text
    assert "GET /v1/usage/around" in page
    row = page.split('data-milestone="m1"')[1].split("</tr>")[0]
    assert "+10" in row and 'class="usage">–' in row
