"""Scoped tokens and the audit log over the real health, touch and notify APIs (in-process apps on
the session's Kafka and Postgres): a read token cannot write, a write token cannot reach an admin
route, and what a person changes in the console shows on its audit page with who, before and after."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import pytest
from console_scoped import ADMIN, READ, WRITE, ScopedServices, scoped_services_fixture  # noqa: F401 (the fixture)
from test_console_services import _open_tasks, csrf, seeded_account
from waiting import eventually

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.clients import HttpBackend
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.health.adapters.scorecard_file import DEFAULT_PATH as DEFAULT_SCORECARDS
from touchline.shared.settings import CommonSettings

MANAGER, PASSWORD = "manager-audit@us.test", "correct horse battery"


@pytest.fixture
async def apps(scoped_services: ScopedServices) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A client per service, sending no token unless told."""
    async with AsyncExitStack() as stack:
        yield {
            name: await stack.enter_async_context(httpx.AsyncClient(base_url=url))
            for name, url in scoped_services.urls.items()
        }


@pytest.fixture
async def backend(scoped_services: ScopedServices) -> AsyncIterator[HttpBackend]:
    backend = HttpBackend.from_settings(scoped_services.common, scoped_services.console_settings())
    yield backend
    await backend.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_read_token_reads_but_cannot_write_naming_the_scope(
    common: CommonSettings, backend: HttpBackend, apps: dict[str, httpx.AsyncClient]
) -> None:
    account = await seeded_account(common, backend)
    health = apps["health"]
    read = await health.get(f"/v1/accounts/{account}", headers=bearer(READ))
    assert read.status_code == 200 and read.json()["account_id"] == account
    body = {"kind": "band", "band": "good", "reason": "x", "set_by": "viewer", "expires_in_days": 3}
    refused = await health.put(f"/v1/accounts/{account}/overrides", json=body, headers=bearer(READ))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "token 'viewer' has the read scope; this route needs the write scope"
    assert (await backend.score(account)).override is None  # type: ignore[union-attr]
    for client, path in ((health, f"/v1/accounts/{account}"), (apps["touch"], "/v1/playbooks")):
        missing = await client.get(path, headers={"authorization": ""})
        assert missing.status_code == 401 and missing.json()["detail"] == "missing bearer token"
        unknown = await client.get(path, headers=bearer("not-a-token-0123456789"))
        assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown bearer token"


async def test_admin_routes_refuse_a_write_token(apps: dict[str, httpx.AsyncClient]) -> None:
    touch = apps["touch"]
    yaml_body = {"content": "name: x\n", "headers": {**bearer(WRITE), "content-type": "application/yaml"}}
    refused = await touch.post("/v1/playbooks/validate", **yaml_body)  # type: ignore[arg-type]
    assert refused.status_code == 403 and "needs the admin scope" in refused.json()["detail"]
    refused = await apps["health"].post("/v1/scorecards/validate", **yaml_body)  # type: ignore[arg-type]
    assert refused.status_code == 403 and "needs the admin scope" in refused.json()["detail"]
    for service in ("health", "touch", "notify"):
        audit = await apps[service].get("/v1/audit", headers=bearer(WRITE))
        assert audit.status_code == 403 and "needs the admin scope" in audit.json()["detail"], service
        assert (await apps[service].get("/v1/audit", headers=bearer(ADMIN))).status_code == 200
    bad = await apps["health"].get("/v1/audit", params={"limit": 0}, headers=bearer(ADMIN))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_changes_made_in_the_console_show_on_its_audit_page_with_who_before_and_after(
    common: CommonSettings, backend: HttpBackend
) -> None:
    account = await seeded_account(common, backend)
    task = (await eventually(lambda: _open_tasks(backend, account), what="notify opened the account's task"))[0]
    before = await backend.score(account)
    assert before is not None
    users = UserStore({})
    users.put(User(email=MANAGER, name="Mana", password_hash=hash_password(PASSWORD), locale="en", role="manager"))
    app = build_app(common, ConsoleSettings(), backend=backend, users=users)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as console:
        form = await console.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token
        data = {"email": MANAGER, "password": PASSWORD, "login_token": token.group(1)}
        assert (await console.post("/login", data=data)).status_code == 303
        page = await console.get(f"/accounts/{account}")
        until = (await backend.now() + timedelta(days=10)).date().isoformat()
        saved = await console.post(
            f"/accounts/{account}/override",
            data={"csrf": csrf(page.text), "band": "action_required", "reason": "renewal at risk", "expires": until},
        )
        assert "msg=override_saved" in saved.headers["location"]
        done = await console.post(
            f"/tasks/{task.task_id}/complete",
            data={"csrf": csrf(page.text), "close_reason": "resolved", "next": f"/accounts/{account}"},
        )
        assert "msg=task_complete" in done.headers["location"]

        audit = await console.get("/audit", params={"account": account})
        assert audit.status_code == 200
        rows = audit.text.split('class="audit-entry"')[1:]
        override = next(r for r in rows if "health.set_override" in r)
        assert f'<td class="actor">{MANAGER}</td>' in override
        assert f"&#34;band&#34;: &#34;{before.band}&#34;" in override.split('class="before"')[1].split("</td>")[0]
        assert "&#34;band&#34;: &#34;action_required&#34;" in override.split('class="after"')[1].split("</td>")[0]
        completed = next(r for r in rows if "notify." in r and task.task_id in r)
        assert f'<td class="actor">{MANAGER}</td>' in completed and "<td>200</td>" in completed

        mine = await console.get("/audit", params={"actor": MANAGER, "action": "set_override"})
        assert mine.text.count('class="audit-entry"') == 1
        nobody = await console.get("/audit", params={"actor": "someone-else@us.test", "account": account})
        assert 'class="audit-entry"' not in nobody.text


async def test_an_admin_validates_playbooks_and_scorecards_through_the_services(backend: HttpBackend) -> None:
    assert await backend.validate("scorecards", DEFAULT_SCORECARDS.read_text(encoding="utf-8")) == []
    problems = await backend.validate("scorecards", "scorecards: []\n")
    assert problems and all(p.startswith("body:") for p in problems) and "scorecards" in problems[0]
    assert await backend.validate("playbook", "name: [\n")  # not YAML: touch names the problem
    users = UserStore({})
    users.put(User(email=MANAGER, name="Ad", password_hash=hash_password(PASSWORD), locale="en", role="admin"))
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as console:
        form = await console.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token
        data = {"email": MANAGER, "password": PASSWORD, "login_token": token.group(1)}
        assert (await console.post("/login", data=data)).status_code == 303
        page = await console.get("/validate")
        checked = await console.post(
            "/validate", data={"csrf": csrf(page.text), "kind": "scorecards", "text": "scorecards: []\n"}
        )
        assert checked.status_code == 200 and 'id="problems"' in checked.text
