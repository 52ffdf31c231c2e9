"""The console's pages and actions through ASGI, on the in-memory backend."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.ports import BackendUnavailable
from touchline.console.settings import ConsoleSettings
from touchline.console.throttle import InMemoryThrottleStore, ThrottlePolicy
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AIKO, KEN, PASSWORD = "aiko@example.com", "ken@example.com", "correct horse battery"
PAGES = ["/", "/accounts", "/accounts/acc-00000", "/tasks", "/feedback"]
ACTIONS = [
    "/accounts/acc-00000/override",
    "/accounts/acc-00000/override/delete",
    "/enrolments/enr-00000/pause",
    "/tasks/task-00000/complete",
    "/tasks/task-00000/snooze",
    "/tasks/task-00000/comment",
    "/tasks/task-00000/assign",
    "/feedback/milestones",
    "/feedback/subscriptions",
    "/feedback/subscriptions/sub-1/delete",
    "/lang",
    "/logout",
]


def users() -> UserStore:
    store = UserStore({})
    # Aiko manages the team (team views, reassigning, all accounts); Ken is a CSM.
    for email, name, role in ((AIKO, "Aiko", "manager"), (KEN, "Ken", "csm")):
        hashed = hash_password(PASSWORD)
        store.put(User(email=email, name=name, password_hash=hashed, locale="ja", team="east", role=role))
    return store


@pytest.fixture
def backend() -> InMemoryBackend:
    return demo_backend(now=NOW, accounts=30, owners=(AIKO,))


@pytest.fixture
async def client(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(page_size=10), backend=backend, users=users())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
            yield c


def throttled_app(backend: InMemoryBackend) -> FastAPI:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(page_size=10), backend=backend, users=users())
    # A first delay of minutes: no request here can outlast it, however slow the machine.
    app.state.console.throttle.policy = ThrottlePolicy(base_delay_s=600.0)
    return app


@asynccontextmanager
async def from_address(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
        yield c


async def sign_in(client: httpx.AsyncClient, email: str = AIKO, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    return await client.post(
        "/login", data={"email": email, "password": password, "login_token": token.group(1), "next": "/accounts"}
    )


async def csrf_of(client: httpx.AsyncClient, path: str = "/accounts") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(path)).text)
    assert found
    return found.group(1)


async def test_every_page_sends_a_stranger_to_the_login_form(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


async def test_every_action_is_refused_without_a_session(client: httpx.AsyncClient, backend: InMemoryBackend) -> None:
    for path in ACTIONS:
        response = await client.post(path, data={"reason": "x", "band": "good", "close_reason": "resolved"})
        assert response.status_code == 401, path
    assert backend.calls == []


async def test_a_forged_session_cookie_is_not_a_session(client: httpx.AsyncClient) -> None:
    client.cookies.set("tl_session", "eyJlIjoiYWlrb0BleGFtcGxlLmNvbSJ9.AAAA", domain="console.test")
    assert (await client.get("/accounts")).status_code == 303


async def test_a_csm_signs_in_and_lands_on_their_own_accounts(client: httpx.AsyncClient) -> None:
    response = await sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/accounts"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    page = await client.get("/accounts")
    assert page.status_code == 200 and "担当アカウント" in page.text
    assert "other@example.com" not in page.text


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, password="nope")
    assert response.status_code == 401
    assert "メールアドレスまたはパスワードが違います" in response.text
    assert (await sign_in(client, email="nobody@example.com")).status_code == 401


async def test_guessing_passwords_slows_the_guesser_not_the_csm_signing_in_from_elsewhere(
    backend: InMemoryBackend,
) -> None:
    app = throttled_app(backend)
    async with app.router.lifespan_context(app), from_address(app, "6.6.6.6") as attacker:
        for _ in range(5):
            response = await sign_in(attacker, password="guess")
            if response.status_code == 429:
                break
            assert response.status_code == 401
        blocked = await sign_in(attacker)
        assert blocked.status_code == 429 and "tl_session" not in blocked.headers.get("set-cookie", "")
        assert int(blocked.headers["retry-after"]) >= 1
        async with from_address(app, "10.0.0.9") as csm:
            assert (await sign_in(csm)).status_code == 303


async def test_spraying_one_password_over_many_emails_from_one_address_gets_429(backend: InMemoryBackend) -> None:
    app = throttled_app(backend)
    statuses = []
    async with app.router.lifespan_context(app), from_address(app, "6.6.6.6") as sprayer:
        for i in range(25):
            statuses.append((await sign_in(sprayer, email=f"csm{i}@example.com", password="Summer2026!")).status_code)
        assert statuses[:20] == [401] * 20 and 429 in statuses[20:]
        async with from_address(app, "10.0.0.9") as csm:
            assert (await sign_in(csm)).status_code == 303


async def test_a_browser_that_signed_in_before_passes_a_distributed_guessing_attack(backend: InMemoryBackend) -> None:
    app = throttled_app(backend)
    async with app.router.lifespan_context(app), from_address(app, "10.0.0.9") as laptop:
        assert (await sign_in(laptop)).status_code == 303
        assert "tl_device=" in str(laptop.cookies.jar)
        await laptop.post("/logout", data={"csrf": await csrf_of(laptop)})
        for n in range(11):  # one address each: no per-address or per-pair delay applies
            async with from_address(app, f"6.6.6.{n}") as bot:
                assert (await sign_in(bot, password="guess")).status_code == 401
        async with from_address(app, "10.0.0.10") as new_browser:
            assert (await sign_in(new_browser)).status_code == 429
        assert (await sign_in(laptop)).status_code == 303


class DownStore(InMemoryThrottleStore):
    async def reserve(self, keys, *, now, forget_after_s):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")


async def test_sign_in_fails_closed_with_503_while_the_throttle_store_is_down(backend: InMemoryBackend) -> None:
    app = build_app(
        CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users(), throttle_store=DownStore()
    )
    async with app.router.lifespan_context(app), from_address(app, "10.0.0.9") as csm:
        response = await sign_in(csm)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "tl_session" not in response.headers.get("set-cookie", "")
        assert "サインインできません" in response.text


class FailingAfterCheckStore(InMemoryThrottleStore):
    async def failed(self, keys, *, now, forget_after_s):  # type: ignore[no-untyped-def]
        raise OSError("connection reset")

    async def clear(self, keys):  # type: ignore[no-untyped-def]
        raise OSError("connection reset")


async def test_a_store_failing_after_the_check_refuses_a_wrong_password_and_admits_the_right_one(
    backend: InMemoryBackend,
) -> None:
    store = FailingAfterCheckStore()
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users(), throttle_store=store)
    async with app.router.lifespan_context(app), from_address(app, "10.0.0.9") as csm:
        assert (await sign_in(csm, password="guess")).status_code == 503
        assert (await sign_in(csm)).status_code == 303


async def test_a_login_post_without_the_forms_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"email": AIKO, "password": PASSWORD, "login_token": "x"})
    assert response.status_code == 403
    assert "tl_session" not in response.headers.get("set-cookie", "")


async def test_login_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    form = await client.get("/login?next=//evil.example/x")
    assert 'value="/accounts"' in form.text


async def test_a_form_without_a_csrf_token_changes_nothing(client: httpx.AsyncClient, backend: InMemoryBackend) -> None:
    await sign_in(client)
    response = await client.post("/accounts/acc-00000/override", data={"band": "good", "reason": "x"})
    assert response.status_code == 403
    assert backend.calls == []


async def test_one_csm_cannot_act_with_a_form_token_of_another_session(backend: InMemoryBackend) -> None:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users())
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://console.test") as aiko,
        httpx.AsyncClient(transport=transport, base_url="https://console.test") as ken,
    ):
        await sign_in(aiko)
        await sign_in(ken, email=KEN)
        aikos_token = await csrf_of(aiko)
        forged = await ken.post("/tasks/task-00000/complete", data={"csrf": aikos_token, "close_reason": "resolved"})
        assert forged.status_code == 403
        assert backend.task_list["task-00000"].status == "open"
        own = await aiko.post("/tasks/task-00000/complete", data={"csrf": aikos_token, "close_reason": "resolved"})
        assert own.status_code == 303
        assert backend.task_list["task-00000"].status == "completed"


async def test_an_override_is_saved_with_who_and_why(client: httpx.AsyncClient, backend: InMemoryBackend) -> None:
    await sign_in(client)
    token = await csrf_of(client, "/accounts/acc-00000")
    response = await client.post(
        "/accounts/acc-00000/override",
        data={"csrf": token, "band": "caution", "score": "", "reason": "called them", "expires": "2026-12-31"},
    )
    assert response.status_code == 303 and "msg=override_saved" in response.headers["location"]
    override = backend.scores["acc-00000"].override
    assert override and override.band == "caution" and override.by == AIKO and override.reason == "called them"
    page = await client.get("/accounts/acc-00000")
    assert "called them" in page.text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"score": "120", "reason": "r"}, "score"),
        ({"score": "abc", "reason": "r"}, "score"),
        ({"band": "purple", "reason": "r"}, "band"),
        ({"reason": "r"}, "score"),
        ({"band": "good", "reason": ""}, "reason"),
        ({"band": "good", "reason": "r", "expires": "2020-01-01"}, "expires"),
        ({"band": "good", "reason": "r", "expires": "soon"}, "expires"),
    ],
)
async def test_a_bad_override_is_refused_naming_the_field(
    client: httpx.AsyncClient, backend: InMemoryBackend, form: dict[str, str], field: str
) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    response = await client.post("/accounts/acc-00000/override", data={"csrf": token, **form})
    assert response.status_code == 303
    assert f"err={field}" in response.headers["location"]
    assert backend.calls == []


async def test_enrolments_pause_and_a_refusal_from_touch_is_shown(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    paused = await client.post("/enrolments/enr-00000/pause", data={"csrf": token, "account_id": "acc-00000"})
    assert paused.headers["location"] == "/accounts/acc-00000?msg=enrolment_pause"
    assert backend.enrolment_list["acc-00000"][0].status == "paused"
    again = await client.post("/enrolments/enr-00000/pause", data={"csrf": token, "account_id": "acc-00000"})
    assert "err=cannot+pause" in again.headers["location"]


@pytest.mark.parametrize(
    ("action", "form", "field"),
    [
        ("complete", {"close_reason": "bored"}, "close_reason"),
        ("snooze", {"until": "2020-01-01"}, "until"),
        ("comment", {"text": "  "}, "text"),
        ("assign", {"owner": "stranger@example.com"}, "owner"),
    ],
)
async def test_a_bad_task_action_is_refused_naming_the_field(
    client: httpx.AsyncClient, backend: InMemoryBackend, action: str, form: dict[str, str], field: str
) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    response = await client.post(f"/tasks/task-00000/{action}", data={"csrf": token, **form})
    assert f"err={field}" in response.headers["location"]
    assert backend.calls == []


async def test_task_actions_reach_the_backend_with_the_acting_csm(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    for action, form in (
        ("comment", {"text": "left a voicemail"}),
        ("snooze", {"until": "2026-12-01"}),
        ("assign", {"owner": KEN}),
    ):
        response = await client.post(f"/tasks/task-00000/{action}", data={"csrf": token, "next": "/tasks", **form})
        assert response.headers["location"] == f"/tasks?msg=task_{action}"
    task = backend.task_list["task-00000"]
    assert task.owner == KEN and task.comments[0][:2] == (AIKO, "left a voicemail")
    assert task.due_at == datetime(2026, 12, 1, tzinfo=UTC)


async def test_the_inbox_filters_mine_team_overdue_and_priority(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    await sign_in(client)
    mine = await client.get("/tasks?view=mine")
    overdue = await client.get("/tasks?view=overdue&priority=urgent")
    assert mine.status_code == overdue.status_code == 200
    expected = [
        t
        for t in backend.task_list.values()
        if t.owner == AIKO and t.priority == "urgent" and t.due_at and t.due_at < NOW
    ]
    assert overdue.text.count('class="task"') == len(expected)
    assert (await client.get("/tasks?view=everyone")).status_code == 422


async def test_bad_list_filters_are_refused_naming_the_parameter(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    for path, name in (
        ("/accounts?band=purple", "band"),
        ("/accounts?page=0", "page"),
        ("/feedback?months=5", "months"),
    ):
        response = await client.get(path)
        assert response.status_code == 422 and f"{name}:" in response.text


async def test_the_account_list_pages_filters_and_sorts(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    first = await client.get("/accounts?scope=all&sort=-score")
    assert 'rel="next"' in first.text and "1 / 3" in first.text
    worst = await client.get("/accounts?scope=all&band=action_required")
    assert "要対応" in worst.text and "良好" not in worst.text.split("<tbody>")[1]


async def test_the_account_page_names_measures_in_the_csms_language(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    page = await client.get("/accounts/acc-00000")
    assert page.status_code == 200
    assert "最終ログインからの日数" in page.text and ">days_since_login<" not in page.text


async def test_an_unknown_account_answers_404(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    assert (await client.get("/accounts/nope")).status_code == 404


async def test_a_service_that_does_not_answer_gives_a_clear_502(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    async def down(*args: object, **kwargs: object) -> None:
        raise BackendUnavailable("health", "ConnectError")

    await sign_in(client)
    backend.score = down  # type: ignore[method-assign]
    response = await client.get("/accounts/acc-00000")
    assert response.status_code == 502 and "health" in response.text


async def test_switching_language_needs_the_form_token_and_sticks(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    switched = await client.post("/lang", data={"csrf": token, "locale": "en", "next": "/tasks"})
    assert switched.headers["location"] == "/tasks"
    assert "Task inbox" in (await client.get("/tasks")).text
    assert (await client.post("/lang", data={"csrf": token, "locale": "fr"})).status_code == 422


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_signing_out_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    token = await csrf_of(client)
    await client.post("/logout", data={"csrf": token})
    assert (await client.get("/accounts")).status_code == 303


async def test_when_no_service_can_list_my_accounts_all_accounts_show_with_a_notice(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    from touchline.console.ports import BackendRefused

    real = backend.list_accounts

    async def no_owner_filter(query):  # type: ignore[no-untyped-def]
        if query.owner:
            raise BackendRefused("touch", 501, "filtering by owner needs touch's account listing")
        return await real(query)

    backend.list_accounts = no_owner_filter  # type: ignore[method-assign]
    await sign_in(client)
    page = await client.get("/accounts")
    assert page.status_code == 200
    assert "filtering by owner needs touch" in page.text and "other@example.com" in page.text
