"""The account list's CSV export: the list's filters, every page, cells a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.models import AccountQuery
from touchline.console.settings import ConsoleSettings
from touchline.console.views.exports import safe_cell
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AIKO, KEN, PASSWORD = "aiko@example.com", "ken@example.com", "correct horse battery"


@pytest.fixture
def backend() -> InMemoryBackend:
    return demo_backend(now=NOW, accounts=40, owners=(AIKO, KEN))


@asynccontextmanager
async def signed_in_as(backend: InMemoryBackend, email: str) -> AsyncIterator[httpx.AsyncClient]:
    users = UserStore({})
    for who, role in ((AIKO, "manager"), (KEN, "csm")):
        users.put(User(email=who, name=who, password_hash=hash_password(PASSWORD), locale="en", role=role))
    # A page of 5 rows: the export must still hold every match, not the screen's page.
    app = build_app(CommonSettings(env="test"), ConsoleSettings(page_size=5), backend=backend, users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
            form = await c.get("/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert token
            await c.post("/login", data={"email": email, "password": PASSWORD, "login_token": token.group(1)})
            yield c


@pytest.fixture
async def client(backend: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in_as(backend, AIKO) as c:  # a manager: "all accounts" is hers to see
        yield c


async def test_a_csm_cannot_export_all_accounts_as_she_cannot_list_them(backend: InMemoryBackend) -> None:
    async with signed_in_as(backend, KEN) as ken:
        assert (await ken.get("/accounts.csv", params={"scope": "all"})).status_code == 403
        mine = rows_of(await ken.get("/accounts.csv"))
    assert mine and {r["owner"] for r in mine} == {KEN}


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def expected_ids(backend: InMemoryBackend, query: AccountQuery) -> list[str]:
    return [r.account_id for r in (await backend.list_accounts(replace(query, limit=1000))).items]


async def test_the_export_holds_every_account_the_filters_match_in_the_lists_order(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    red = rows_of(await client.get("/accounts.csv", params={"scope": "all", "band": "action_required", "sort": "name"}))
    want = await expected_ids(backend, AccountQuery(band="action_required", sort="name"))
    assert [r["account_id"] for r in red] == want and len(want) > 5
    assert {r["band"] for r in red} == {"action_required"}
    mine = rows_of(await client.get("/accounts.csv"))
    assert [r["account_id"] for r in mine] == await expected_ids(backend, AccountQuery(owner=AIKO))
    assert {r["owner"] for r in mine} == {AIKO}


async def test_the_list_links_its_download_to_the_same_filters(client: httpx.AsyncClient) -> None:
    page = await client.get("/accounts", params={"scope": "all", "tier": "high", "page": "2"})
    link = re.search(r'id="download-csv" href="([^"]+)"', page.text)
    assert link and link.group(1).replace("&amp;", "&") == "/accounts.csv?scope=all&tier=high"


async def test_a_bad_filter_is_refused_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/accounts.csv", params={"band": "purple"})
    assert response.status_code == 422 and "band" in response.text


async def test_a_name_a_spreadsheet_would_run_as_a_formula_is_quoted(
    client: httpx.AsyncClient, backend: InMemoryBackend
) -> None:
    backend.scores["acc-00001"] = replace(backend.scores["acc-00001"], name='=HYPERLINK("http://x.test","pay")')
    rows = rows_of(await client.get("/accounts.csv", params={"scope": "all", "q": "HYPERLINK"}))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://x.test","pay")']


def test_every_formula_start_is_neutralised_and_plain_values_are_kept() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert [safe_cell(v) for v in ("Acme", 42.34, None, True, "a=b")] == ["Acme", "42.3", "", "true", "a=b"]


async def test_a_stranger_gets_no_export(backend: InMemoryBackend) -> None:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=UserStore({}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as c:
            response = await c.get("/accounts.csv")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
