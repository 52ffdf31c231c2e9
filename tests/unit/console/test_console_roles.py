"""Console roles: what a CSM, a manager and an admin may open and do (auth.PERMISSIONS), the 403
page, the nav showing only what the role may open, the users file's role field, and the audit page."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from touchline.console import main
from touchline.console.auth import PERMISSIONS, ROLES, User, UsersFileError, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.models import AuditEntry
from touchline.console.settings import ConsoleSettings
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
CSM, MANAGER, ADMIN = "csm@example.com", "manager@example.com", "admin@example.com"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "console.md"


def people() -> UserStore:
    store = UserStore({})
    hashed = hash_password(PASSWORD)
    for email, role in ((CSM, "csm"), (MANAGER, "manager"), (ADMIN, "admin")):
        store.put(User(email=email, name=role.title(), password_hash=hashed, locale="en", team="east", role=role))
    return store


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    data = {"email": email, "password": PASSWORD, "login_token": token.group(1), "next": "/accounts"}
    return await client.post("/login", data=data)


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(path)).text)
    assert found
    return found.group(1)


@pytest.fixture
def backend() -> InMemoryBackend:
    backend = demo_backend(now=NOW, accounts=10, owners=(CSM,))
    backend.audit_entries = [
        AuditEntry(
            service="health", at=NOW - timedelta(hours=h), actor=actor, action=action, method="PUT",
            route="/v1/accounts/{account_id}/overrides", account_id=account, status=200,
            before={"band": "good"}, after={"band": "at_risk"},
        )
        for h, actor, action, account in (
            (1, CSM, "health.set_override", "acc-00001"),
            (30, MANAGER, "touch.act.pause", "acc-00002"),
        )
    ]  # fmt: skip
    return backend


async def console(backend: InMemoryBackend, email: str) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=people())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as client:
            assert (await sign_in(client, email)).status_code == 303
            yield client


@pytest.fixture
async def csm(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    async for client in console(backend, CSM):
        yield client


@pytest.fixture
async def manager(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    async for client in console(backend, MANAGER):
        yield client


@pytest.fixture
async def admin(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    async for client in console(backend, ADMIN):
        yield client


@pytest.mark.parametrize("path", ["/audit", "/users", "/validate", "/accounts?scope=all", "/tasks?view=team"])
async def test_a_csm_gets_the_403_page_on_a_managers_page(csm: httpx.AsyncClient, path: str) -> None:
    page = await csm.get(path)
    assert page.status_code == 403
    assert "Your role does not allow this page" in page.text


async def test_a_csm_cannot_reassign_a_task_and_nothing_changes(
    csm: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    token = await csrf_of(csm, "/tasks")
    refused = await csm.post("/tasks/task-00000/assign", data={"csrf": token, "owner": MANAGER})
    assert refused.status_code == 403
    assert not [c for c in backend.calls if c[0].startswith("task")]


async def test_the_nav_and_the_forms_show_a_csm_only_what_they_may_open(csm: httpx.AsyncClient) -> None:
    accounts = (await csm.get("/accounts")).text
    assert 'href="/audit"' not in accounts and 'href="/users"' not in accounts and 'href="/validate"' not in accounts
    assert 'value="all"' not in accounts
    tasks = (await csm.get("/tasks")).text
    assert "view=team" not in tasks and "/assign" not in tasks


async def test_a_manager_sees_the_team_views_and_the_audit_log_but_not_the_users(manager: httpx.AsyncClient) -> None:
    accounts = await manager.get("/accounts?scope=all")
    assert accounts.status_code == 200 and 'href="/audit"' in accounts.text and 'href="/users"' not in accounts.text
    team = await manager.get("/tasks?view=team")
    assert team.status_code == 200 and "/assign" in team.text
    assert (await manager.get("/users")).status_code == 403
    assert (await manager.get("/validate")).status_code == 403


async def test_the_audit_page_lists_who_changed_what_and_filters(manager: httpx.AsyncClient) -> None:
    page = (await manager.get("/audit")).text
    assert page.count('class="audit-entry"') == 2
    assert CSM in page and "health.set_override" in page and "at_risk" in page
    by_actor = (await manager.get("/audit", params={"actor": CSM})).text
    assert by_actor.count('class="audit-entry"') == 1 and "touch.act.pause" not in by_actor
    by_action = (await manager.get("/audit", params={"action": "pause"})).text
    assert by_action.count('class="audit-entry"') == 1 and "acc-00002" in by_action
    since = (NOW - timedelta(hours=2)).date().isoformat()
    recent = (await manager.get("/audit", params={"since": since, "account": "acc-00001"})).text
    assert recent.count('class="audit-entry"') == 1


async def test_a_bad_audit_filter_is_refused_naming_it(manager: httpx.AsyncClient) -> None:
    page = await manager.get("/audit", params={"since": "yesterday"})
    assert page.status_code == 422 and "since" in page.text


async def test_an_admin_sees_the_users_with_their_roles(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/users")
    assert page.status_code == 200 and CSM in page.text and "Manager" in page.text
    assert 'href="/users"' in page.text and 'href="/audit"' in page.text


def test_a_bad_role_in_the_users_file_names_file_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users: [{email: a@x.io, name: A, password_hash: 'scrypt$x', role: boss}]")
    with pytest.raises(UsersFileError) as info:
        UserStore.load(path)
    assert str(info.value) == f"{path}: users[0] (a@x.io): field 'role' must be one of csm, manager, admin, not 'boss'"


def test_a_user_without_a_role_is_a_csm(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users: [{email: a@x.io, name: A, password_hash: 'scrypt$x'}]")
    user = UserStore.load(path).get("a@x.io")
    assert user is not None and user.role == "csm" and not user.can("audit.read")


def test_adduser_sets_a_role_and_keeps_it_when_changing_something_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_file = tmp_path / "users.yaml"
    monkeypatch.setenv("TOUCHLINE_CONSOLE_USERS_FILE", str(users_file))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main.cli(["adduser", "boss@example.com", "--role", "manager", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main.cli(["adduser", "boss@example.com", "--team", "west", "--password-stdin"]) == 0
    user = UserStore.load(users_file).get("boss@example.com")
    assert user is not None and user.role == "manager" and user.team == "west"
    with pytest.raises(SystemExit):  # argparse names the choices
        main.cli(["adduser", "x@example.com", "--role", "owner", "--password-stdin"])


def test_the_docs_table_shows_every_permission_and_role() -> None:
    text = DOCS.read_text()
    for permission, roles in PERMISSIONS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{permission}` |")), None)
        assert row is not None, permission
        cells = [c.strip() for c in row.strip("|").split("|")][2:]
        assert cells == ["yes" if r in roles else "—" for r in ROLES], row


async def test_a_user_change_is_on_the_audit_page_with_who_made_it_and_the_role_before_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: InMemoryBackend
) -> None:
    users_file = tmp_path / "users.yaml"
    monkeypatch.setenv("TOUCHLINE_CONSOLE_USERS_FILE", str(users_file))
    for role in ("csm", "manager"):
        monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
        assert main.cli(["adduser", "ken@example.com", "--role", role, "--by", "root-op", "--password-stdin"]) == 0
    log = (tmp_path / "users.yaml.audit.jsonl").read_text()
    assert "scrypt$" not in log and "a long enough password" not in log
    assert oct((tmp_path / "users.yaml.audit.jsonl").stat().st_mode & 0o777) == "0o600"
    with (tmp_path / "users.yaml.audit.jsonl").open("a") as out:
        out.write("not an entry\n")  # a hand-edited line is skipped, not a broken page

    store = people()
    app = build_app(
        CommonSettings(env="test"), ConsoleSettings(users_file=str(users_file)), backend=backend, users=store
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as client:
        assert (await sign_in(client, ADMIN)).status_code == 303
        page = (await client.get("/audit", params={"action": "console."})).text
    rows = page.split('class="audit-entry"')[1:]
    assert len(rows) == 2 and all('<td class="actor">root-op</td>' in r for r in rows)
    change = next(r for r in rows if "console.change_user" in r)
    assert "&#34;role&#34;: &#34;csm&#34;" in change.split('class="before"')[1].split("</td>")[0]
    assert "&#34;role&#34;: &#34;manager&#34;" in change.split('class="after"')[1].split("</td>")[0]


async def test_an_admin_checks_a_playbook_and_sees_its_problems(admin: httpx.AsyncClient) -> None:
    token = await csrf_of(admin, "/validate")
    good = await admin.post("/validate", data={"csrf": token, "kind": "playbook", "text": "name: onboarding\n"})
    assert good.status_code == 200 and 'id="valid"' in good.text
    bad = await admin.post("/validate", data={"csrf": token, "kind": "scorecards", "text": "steps: []\n"})
    assert bad.status_code == 200 and "a scorecards needs a name" in bad.text and "name: onboarding" not in bad.text
    unknown = await admin.post("/validate", data={"csrf": token, "kind": "tiers", "text": "x: 1"})
    assert unknown.status_code == 422 and "kind" in unknown.text


async def test_a_manager_cannot_post_a_validation_either(manager: httpx.AsyncClient) -> None:
    token = await csrf_of(manager, "/accounts")
    refused = await manager.post("/validate", data={"csrf": token, "kind": "playbook", "text": "name: x"})
    assert refused.status_code == 403
