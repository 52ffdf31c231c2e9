"""The console over the real health, touch and notify APIs (in-process apps on the session's Kafka and
Postgres): a CSM reads an account built from real events, overrides its band and completes its task,
and the owning services hold the result."""

from __future__ import annotations

import html
import random
import re
import string
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from waiting import eventually

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.clients import HttpBackend, ServiceClient
from touchline.console.i18n import load_catalogues, translator
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.health.main import build_app as health_app
from touchline.health.settings import HealthSettings
from touchline.notify.main import build_app as notify_app
from touchline.notify.settings import NotifySettings
from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.messages import Command, Message, ProductEvent, Recipients, TaskSpec
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.smtp_sink import MailSink
from touchline.touch.main import build_app as touch_app
from touchline.touch.settings import TouchSettings

CSM, PASSWORD = "csm-console@us.test", "correct horse battery"


@pytest.fixture(scope="module")
async def services(common: CommonSettings) -> AsyncIterator[HttpBackend]:
    sink = MailSink().start()
    apps = {
        "health": health_app(common, HealthSettings()),
        "touch": touch_app(common, TouchSettings()),
        "notify": notify_app(common, NotifySettings(smtp_port=sink.port, public_url="http://notify.test")),
    }
    headers = {"authorization": f"Bearer {common.api_token.get_secret_value()}"}
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=headers
            )
            clients[name] = ServiceClient(name, await stack.enter_async_context(client))
        yield HttpBackend(health=clients["health"], touch=clients["touch"], notify=clients["notify"])
    sink.stop()


async def publish(common: CommonSettings, topic: topics.Topic, *messages: Message) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for m in messages:
            key, value, headers = encode(m, source="touchline/test")
            await producer.send_and_wait(topics.name(topic, common.topic_prefix), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def seeded_account(common: CommonSettings, backend: HttpBackend) -> str:
    account = f"console-{uuid.uuid4().hex[:10]}"
    now = await backend.now()
    traits = {
        "name": "Hikari Foods",
        "arr": 2_400_000,
        "seats": 40,
        "csm_owner": CSM,
        "lifecycle_stage": "adoption",
        "renewal_date": (now + timedelta(days=200)).date().isoformat(),
        "signed_at": (now - timedelta(days=300)).isoformat(),
    }
    event = ProductEvent(
        message_id=str(uuid.uuid4()), account_id=account, kind="group", traits=traits, timestamp=now, received_at=now
    )
    login = ProductEvent(
        message_id=str(uuid.uuid4()), account_id=account, kind="track", event="Signed In", semantic="login",
        user_id="u1", timestamp=now, received_at=now,
    )  # fmt: skip
    await publish(common, topics.EVENTS, event, login)
    task = Command(
        command_id=str(uuid.uuid4()), account_id=account, channel="task", dedup_key=str(uuid.uuid4()), issued_at=now,
        task=TaskSpec(type="risk_high_touch", reason="usage fell", subject="Call Hikari Foods", priority="high"),
    )  # fmt: skip
    await publish(common, topics.COMMANDS, task)
    await eventually(lambda: backend.score(account), what="health scored the account")
    await eventually(lambda: backend.tier(account), what="touch tiered the account")
    return account


async def signed_in_console(common: CommonSettings, backend: HttpBackend) -> AsyncIterator[httpx.AsyncClient]:
    users = UserStore({})
    # A manager: this CSM also lists all accounts.
    users.put(User(email=CSM, name="Console CSM", password_hash=hash_password(PASSWORD), locale="en", role="manager"))
    app = build_app(common, ConsoleSettings(), backend=backend, users=users)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as client:
        form = await client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token
        data = {"email": CSM, "password": PASSWORD, "login_token": token.group(1)}
        assert (await client.post("/login", data=data)).status_code == 303
        yield client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_a_csm_reads_overrides_and_completes_through_the_services_apis(
    common: CommonSettings, services: HttpBackend
) -> None:
    account = await seeded_account(common, services)
    tasks = await eventually(lambda: _open_tasks(services, account), what="notify opened the task for the account")
    async for console in signed_in_console(common, services):
        page = await console.get(f"/accounts/{account}")
        assert page.status_code == 200
        detail = await services.score(account)
        assert detail is not None and detail.contributions
        english = translator(load_catalogues(), "en")
        assert all(
            html.escape(english(f"measure.{c.measure}", default=c.label)) in page.text for c in detail.contributions
        )
        assert "<h1>Hikari Foods" in page.text
        tier = await services.tier(account)
        assert tier is not None and html.escape(tier.reason) in page.text
        assert (tier.name, tier.owner) == ("Hikari Foods", CSM) and "Hikari Foods" in page.text
        assert "Task opened</span> Call Hikari Foods" in page.text

        until = (await services.now() + timedelta(days=10)).date()
        saved = await console.post(
            f"/accounts/{account}/override",
            data={
                "csrf": csrf(page.text),
                "band": "action_required",
                "reason": "renewal at risk",
                "expires": until.isoformat(),
            },
        )
        assert "msg=override_saved" in saved.headers["location"], saved.headers["location"]
        after = await services.score(account)
        assert after is not None and after.band == "action_required" and after.override is not None
        assert after.override.by == CSM and after.override.reason == "renewal at risk"

        done = await console.post(
            f"/tasks/{tasks[0].task_id}/complete",
            data={"csrf": csrf(page.text), "close_reason": "resolved", "next": f"/accounts/{account}"},
        )
        assert "msg=task_complete" in done.headers["location"], done.headers["location"]
        # Only the completed task leaves the list: health's score of the seeded account may still open
        # a band-drop task of its own (touch's playbook) at any moment.
        assert tasks[0].task_id not in [t.task_id for t in await _open_tasks(services, account)]

        # "My accounts" (the default) is touch's listing for this CSM, each row with health's band.
        listing = await console.get("/accounts?band=action_required")
        assert listing.status_code == 200 and 'class="flash warn"' not in listing.text
        assert f'href="/accounts/{account}"' in listing.text and 'data-band="caution"' not in listing.text
        row = listing.text.split(f'href="/accounts/{account}"', 1)[1].split("</tr>", 1)[0]
        assert "Action required" in row and CSM in row
        for sort in ("name", "renewal"):
            found = await console.get(
                "/accounts", params={"scope": "all", "q": account, "tier": tier.tier, "sort": sort}
            )
            assert found.status_code == 200 and 'class="flash warn"' not in found.text
            assert found.text.count('href="/accounts/console-') == 1 and f'href="/accounts/{account}"' in found.text
        assert "(1 accounts)" in found.text  # a sort touch cannot do reads every match, so the total is known


async def _open_tasks(backend: HttpBackend, account: str) -> list[Any]:
    from touchline.console.models import TaskQuery

    return (await backend.tasks(TaskQuery(account_id=account, status="open"))).items


async def test_the_feedback_page_shows_an_nps_answer_given_in_notifys_in_app_survey(
    common: CommonSettings, services: HttpBackend
) -> None:
    from touchline.notify.domain.tokens import user_token

    account, user = f"console-{uuid.uuid4().hex[:10]}", f"u-{uuid.uuid4().hex[:8]}"
    word = "".join(random.choice(string.ascii_lowercase) for _ in range(12))  # a keyword only this answer uses
    now = await services.now()
    command = Command(
        command_id=str(uuid.uuid4()), account_id=account, channel="in_app", template="advocacy.nps_survey",
        dedup_key=str(uuid.uuid4()), issued_at=now, recipients=Recipients(role="user", user_ids=[user]),
    )  # fmt: skip
    await publish(common, topics.COMMANDS, command)
    secret = NotifySettings().inapp_secret.get_secret_value()
    signed = {"X-Touchline-User": user, "X-Touchline-User-Token": user_token(secret, user)}

    async def listed() -> list[Any]:
        response = await services.notify.client.get("/v1/inapp/messages", headers=signed)
        return list(response.json()["messages"])

    message = (await eventually(listed, what="notify showed the in-app NPS survey"))[0]
    answer = {"survey": "nps", "score": 3, "comment": f"the {word} export is slow"}
    posted = await services.notify.client.post(
        f"/v1/inapp/messages/{message['id']}/events", json={"type": "answered", "answer": answer}, headers=signed
    )
    assert posted.status_code == 200

    answers = await services.survey_answers(since=now - timedelta(days=1))
    mine = [a for a in answers if a.account_id == account]
    assert [(a.user_id, a.score, a.comment) for a in mine] == [(user, 3, answer["comment"])]
    async for console in signed_in_console(common, services):
        page = await console.get("/feedback", params={"word": word, "months": "3"})
        assert page.status_code == 200
        assert answer["comment"] in page.text and account in page.text
        assert "answer listing" not in page.text and "GET /v1/milestones" not in page.text


async def _measures(backend: HttpBackend, account: str) -> dict[str, float | None]:
    detail = await backend.score(account)
    assert detail is not None
    return {c.measure: c.value for c in detail.contributions}


async def _last_contact(backend: HttpBackend, account: str) -> str | None:
    profile = await backend.touch.read(f"/v1/accounts/{account}")
    assert profile is not None
    return profile["last_csm_contact_at"]


async def test_a_call_logged_in_the_console_moves_last_contact_relationship_and_the_reengagement_clock(
    common: CommonSettings, services: HttpBackend
) -> None:
    account = f"console-{uuid.uuid4().hex[:10]}"
    now = await services.now()
    seen = now - timedelta(days=60)  # known for 60 days, never contacted
    group = ProductEvent(
        message_id=str(uuid.uuid4()), account_id=account, kind="group", timestamp=seen, received_at=seen,
        traits={"name": "Kaze Labs", "csm_owner": CSM, "seats": 10, "signed_at": seen.isoformat()},
    )  # fmt: skip
    login = ProductEvent(
        message_id=str(uuid.uuid4()), account_id=account, kind="track", event="Signed In", semantic="login",
        user_id="u1", timestamp=now, received_at=now,
    )  # fmt: skip
    await publish(common, topics.EVENTS, group, login)

    async def scored_now() -> bool:
        return (
            (await _measures(services, account)).get("days_since_contact") == 60
            if await services.score(account)
            else False
        )

    await eventually(scored_now, what="health scored 60 days without contact")
    await eventually(lambda: services.touch.read(f"/v1/accounts/{account}"), what="touch knows the account")
    assert (await _measures(services, account)).get("relationship") is None  # no rating yet: no data
    assert await _last_contact(services, account) is None

    ten_days_ago = (now - timedelta(days=10)).date()
    async for console in signed_in_console(common, services):
        page = await console.get(f"/accounts/{account}")
        # First a call nobody answered (today), then a real one ten days ago: when health and touch show
        # the real one, they have read the unanswered one before it (same account, same partition).
        for fields in (
            {"kind": "call", "contact": "Ken", "occurred_at": now.date().isoformat(), "outcome": "voicemail",
             "reached": "no"},
            {"kind": "meeting", "contact": "Ken", "occurred_at": ten_days_ago.isoformat(), "outcome": "QBR",
             "reached": "yes", "relationship": "2"},
        ):  # fmt: skip
            done = await console.post(f"/accounts/{account}/activities", data={"csrf": csrf(page.text), **fields})
            assert "msg=activity_logged" in done.headers["location"], done.headers["location"]

        async def after_meeting() -> bool:
            return (await _measures(services, account)).get("relationship") == 2

        await eventually(after_meeting, what="health read the meeting's rating")
        assert (await _measures(services, account))[
            "days_since_contact"
        ] == 10  # not 0: the unanswered call is no contact
        contact = await eventually(lambda: _last_contact(services, account), what="touch noted the meeting")
        assert contact.startswith(ten_days_ago.isoformat())

        call = {"kind": "call", "contact": "Ken", "occurred_at": now.date().isoformat(), "outcome": "renewal ok",
                "reached": "yes", "relationship": "4"}  # fmt: skip
        done = await console.post(f"/accounts/{account}/activities", data={"csrf": csrf(page.text), **call})
        assert "msg=activity_logged" in done.headers["location"]

        async def after_call() -> bool:
            return (await _measures(services, account)).get("relationship") == 4

        await eventually(after_call, what="health read the call's rating")
        assert (await _measures(services, account))["days_since_contact"] == 0

        async def clock_reset() -> bool:
            return str(await _last_contact(services, account)).startswith(now.date().isoformat())

        await eventually(clock_reset, what="touch's re-engagement clock reset by the call")
        page = await console.get(f"/accounts/{account}")
        assert "renewal ok" in page.text and "voicemail" in page.text and "Call — not reached" in page.text


async def test_a_task_opened_twice_from_the_console_is_refused_naming_the_open_one(
    common: CommonSettings, services: HttpBackend
) -> None:
    account = await seeded_account(common, services)
    async for console in signed_in_console(common, services):
        page = await console.get(f"/accounts/{account}")
        fields = {"csrf": csrf(page.text), "type": "check_in", "reason": "pre-renewal", "priority": "medium"}
        first = await console.post(f"/accounts/{account}/tasks", data=fields)
        assert "msg=task_opened" in first.headers["location"], first.headers["location"]
        [task] = [t for t in await _open_tasks(services, account) if t.type == "check_in"]
        assert task.owner == CSM
        second = await console.post(f"/accounts/{account}/tasks", data=fields)
        assert "already+open" in second.headers["location"] and task.task_id in second.headers["location"]
