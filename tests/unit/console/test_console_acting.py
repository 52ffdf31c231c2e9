"""Acting by hand from the account page (log an activity, open a task, enrol) and what the page says,
through ASGI on the in-memory backend."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.models import Contribution, NewActivity, NewTask
from touchline.console.settings import ConsoleSettings
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AIKO, PASSWORD = "aiko@example.com", "correct horse battery"
ACCOUNT = "acc-00000"
PAGE = f"/accounts/{ACCOUNT}"


@pytest.fixture
def backend() -> InMemoryBackend:
    return demo_backend(now=NOW, accounts=3, owners=(AIKO,))


async def signed_in(backend: InMemoryBackend, locale: str) -> AsyncIterator[httpx.AsyncClient]:
    users = UserStore({})
    users.put(User(email=AIKO, name="Aiko", password_hash=hash_password(PASSWORD), locale=locale))
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as c:
            form = await c.get("/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert token
            data = {"email": AIKO, "password": PASSWORD, "login_token": token.group(1)}
            assert (await c.post("/login", data=data)).status_code == 303
            yield c


@pytest.fixture
async def client(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    async for c in signed_in(backend, "en"):
        yield c


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> dict[str, str]:
    page = await client.get(PAGE)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    response = await client.post(path, data={"csrf": csrf.group(1), **fields})
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def test_a_logged_call_reaches_the_backend_as_the_csm_and_shows_on_the_timeline(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    said = await post(
        client, f"{PAGE}/activities", kind="call", contact="Hanako", occurred_at="2026-11-23",
        outcome="agreed on training", reached="yes", relationship="4", activity_id="f00d",
    )  # fmt: skip
    assert said == {"msg": "activity_logged"}
    expected = NewActivity("call", "Hanako", "2026-11-23", "agreed on training", True, 4, id="f00d")
    assert backend.calls[-1] == ("activity", (ACCOUNT, expected, AIKO))
    page = await client.get(PAGE, params=said)
    assert "Activity logged." in page.text and "agreed on training" in page.text and ">Call</span>" in page.text


async def test_the_form_carries_a_fresh_id_so_a_double_submit_logs_once(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    ids = [re.search(r'name="activity_id" value="([0-9a-f]{32})"', (await client.get(PAGE)).text) for _ in range(2)]
    assert ids[0] and ids[1] and ids[0].group(1) != ids[1].group(1)
    fields = {"kind": "call", "contact": "Ken", "occurred_at": "2026-11-23", "outcome": "ok", "reached": "yes"}
    for _ in range(2):
        await post(client, f"{PAGE}/activities", activity_id=ids[0].group(1), **fields)
    assert [i.summary for i in await backend.timeline(ACCOUNT, limit=100)].count("ok") == 1
    said = await post(client, f"{PAGE}/activities", activity_id="../x", **fields)
    assert said["err"].startswith("activity_id:")


async def test_a_note_is_sent_without_reached_whatever_the_select_said(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await post(client, f"{PAGE}/activities", kind="note", occurred_at="2026-11-23", outcome="prep", reached="yes")
    assert backend.calls[-1][1][1].reached is None


async def test_a_bad_activity_is_refused_naming_the_field_and_nothing_is_logged(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    for field, fields in (
        ("kind", {"kind": "lunch"}),
        ("relationship", {"kind": "call", "relationship": "9"}),
        ("reached", {"kind": "call", "reached": "maybe"}),
    ):
        said = await post(client, f"{PAGE}/activities", occurred_at="2026-11-23", outcome="x", **fields)
        assert said["err"].startswith(f"{field}:"), said
    assert [c for c in backend.calls if c[0] == "activity"] == []


async def test_a_task_opened_by_hand_twice_shows_the_services_refusal_naming_the_open_task(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    fields = {"type": "check_in", "reason": "quarterly review", "priority": "high", "due_at": "2026-11-30"}
    assert await post(client, f"{PAGE}/tasks", **fields) == {"msg": "task_opened"}
    assert backend.calls[-1] == (
        "open_task",
        (NewTask(ACCOUNT, "check_in", "quarterly review", "high", "2026-11-30", None), AIKO),
    )
    [opened] = [t for t in backend.task_list.values() if t.reason == "quarterly review"]
    page = await client.get(PAGE)
    assert "check_in: quarterly review" in page.text
    said = await post(client, f"{PAGE}/tasks", **fields)
    assert opened.task_id in said["err"] and "already open" in said["err"]
    assert [t.task_id for t in backend.task_list.values() if t.reason == "quarterly review"] == [opened.task_id]


async def test_a_task_with_an_unknown_priority_is_refused_naming_the_field(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    said = await post(client, f"{PAGE}/tasks", type="check_in", reason="r", priority="asap")
    assert said["err"].startswith("priority:") and not [c for c in backend.calls if c[0] == "open_task"]


async def test_enrolling_from_the_account_page_starts_the_playbook_and_a_repeat_is_refused(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    page = await client.get(PAGE)
    assert '<option value="onboarding">' in page.text
    assert await post(client, f"{PAGE}/enrol", playbook="onboarding") == {"msg": "enrolled"}
    assert backend.calls[-1] == ("enrol", (ACCOUNT, "onboarding", AIKO))
    assert "already enrolled" in (await post(client, f"{PAGE}/enrol", playbook="onboarding"))["err"]
    assert (await post(client, f"{PAGE}/enrol", playbook=""))["err"].startswith("playbook:")


async def test_the_header_names_the_account_even_when_health_knows_only_its_id(backend: InMemoryBackend) -> None:
    backend.scores[ACCOUNT] = replace(backend.scores[ACCOUNT], name=ACCOUNT)
    backend.tiers[ACCOUNT] = replace(backend.tiers[ACCOUNT], name="Hikari Foods")
    async for client in signed_in(backend, "en"):
        page = await client.get(PAGE)
        assert "<h1>Hikari Foods" in page.text and "<title>Hikari Foods" in page.text


async def test_the_japanese_page_explains_the_score_in_japanese(backend: InMemoryBackend) -> None:
    backend.scores[ACCOUNT] = replace(
        backend.scores[ACCOUNT],
        contributions=[
            Contribution("days_since_login", "engagement", 12.0, 40.0, 0.5, 20.0, label="days since the last login"),
            Contribution("relationship", "engagement", 2.0, 25.0, 0.5, 12.5, label="relationship rating"),
            Contribution("nps", "roi", None, None, 0.0, 0.0, missing=True, label="latest NPS"),
        ],
        reasons=["Engagement · days since the last login = 12 days: scored 40, costs 30.0 pts"],
    )
    async for client in signed_in(backend, "ja"):
        page = await client.get(PAGE)
        reasons = page.text.split('<ul class="reasons">', 1)[1].split("</ul>", 1)[0]
        assert "エンゲージメント · 関係性の評価（1〜5） = 2/5：スコア 25、37.5 点の減点" in reasons
        assert "最終ログインからの日数 = 12 日：スコア 40、30.0 点の減点" in reasons
        assert "最新の NPS 回答（0〜10）：データなし" in reasons
        assert reasons.index("関係性") < reasons.index("最終ログイン")  # what costs most comes first
        assert "costs" not in reasons and "days since" not in page.text
