"""The console's CSV import page: dry run, refused rows by line, apply once, through ingest's own rules
(the fake importer runs ingest's import with in-memory ports, so the page sees real reports)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.importer import Importer
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.ingest.csvimport import Previous, Record, preset
from touchline.ingest.domain import Limits, TimePolicy
from touchline.ingest.handlers import Ports
from touchline.ingest.importing import import_csv
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AIKO, PASSWORD = "aiko@example.com", "correct horse battery"
CSV = (
    b"Id,Name,AnnualRevenue,Owner Email\n"
    b'001A,"Acme\nJapan",120000,aiko@example.com\n'
    b"001B,Beta,lots,aiko@example.com\n"
    b"001C,Gamma,48000,aiko@example.com\n"
)


class InMemoryIngest:
    """ingest's import over in-memory ports: what was published, what it remembers, who asked."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.remembered: dict[str, Previous] = {}
        self.actors: list[str] = []
        self.links: dict[str, str] = {}

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: self.links[k] for k in keys if k in self.links}

    async def park_and_link(self, *, parked: Any, links: dict[str, str], source: str, now: datetime) -> dict[str, str]:
        self.links.update(links)
        return {}

    async def parked_for(self, keys: Sequence[str]) -> list[Any]:
        return []  # an import parks nothing: every call names its account

    async def forget(self, message_ids: Sequence[str]) -> None:
        return None

    async def publish(self, events: Sequence[dict[str, Any]]) -> None:
        self.published.extend(events)

    async def known(self, keys: Sequence[str]) -> dict[str, Previous]:
        return {k: self.remembered[k] for k in keys if k in self.remembered}

    async def remember(self, records: Sequence[Record], *, source: str, now: datetime) -> None:
        self.remembered.update({r.key: Previous(r.traits, r.digest) for r in records})

    async def upload(self, kind: str, data: bytes, *, mapping: str, dry_run: bool, actor: str) -> dict[str, Any]:
        self.actors.append(actor)
        ports = Ports(identities=self, publisher=self)  # type: ignore[arg-type]
        report = await import_csv(
            kind,  # type: ignore[arg-type]
            data,
            preset(mapping),
            dry_run=dry_run,
            source="console",
            ports=ports,
            store=self,
            now=NOW,
            limits=Limits(),
            policy=TimePolicy(),
        )
        return report.as_json()


@asynccontextmanager
async def signed_in(importer: Importer | None) -> AsyncIterator[httpx.AsyncClient]:
    users = UserStore({})
    users.put(User(email=AIKO, name="Aiko", password_hash=hash_password(PASSWORD), locale="en"))
    backend = demo_backend(now=NOW, accounts=5, owners=(AIKO,))
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users, importer=importer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as client:
            form = await client.get("/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert token
            await client.post("/login", data={"email": AIKO, "password": PASSWORD, "login_token": token.group(1)})
            yield client


@pytest.fixture
def ingest() -> InMemoryIngest:
    return InMemoryIngest()


@pytest.fixture
async def client(ingest: InMemoryIngest) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(ingest) as c:
        yield c


async def upload(client: httpx.AsyncClient, *, dry_run: bool, kind: str = "accounts") -> httpx.Response:
    page = await client.get("/imports")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    data = {"csrf": csrf.group(1), "kind": kind, "mapping": "salesforce", **({"dry_run": "1"} if dry_run else {})}
    return await client.post("/imports", data=data, files={"file": ("Account.csv", CSV, "text/csv")})


def cells(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)][1:]


async def test_a_dry_run_shows_the_refused_row_by_line_and_writes_nothing(
    client: httpx.AsyncClient, ingest: InMemoryIngest
) -> None:
    response = await upload(client, dry_run=True)
    assert response.status_code == 200
    assert [row[:2] for row in cells(response.text, "import-errors")] == [["4", "AnnualRevenue"]]
    assert [row[1:3] for row in cells(response.text, "import-changes")] == [
        ["accounts:001A", "new"],
        ["accounts:001C", "new"],
    ]
    assert ingest.published == [] and ingest.remembered == {} and ingest.actors == [AIKO]


async def test_an_import_applies_the_valid_rows_once_and_again_changes_nothing(
    client: httpx.AsyncClient, ingest: InMemoryIngest
) -> None:
    first = await upload(client, dry_run=False)
    assert "3 rows: 2 new, 0 changed, 0 unchanged, 1 refused; 2 applied." in first.text
    again = await upload(client, dry_run=False)
    assert "3 rows: 0 new, 0 changed, 2 unchanged, 1 refused; 0 applied." in again.text
    assert sorted(e["account_id"] for e in ingest.published) == ["001A", "001C"]


async def test_a_wrong_kind_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await upload(client, dry_run=True, kind="deals")
    assert response.status_code == 422 and "kind" in response.text


async def test_without_a_write_key_the_page_says_import_is_not_configured() -> None:
    async with signed_in(None) as c:
        response = await upload(c, dry_run=True)
    assert response.status_code == 503 and "TOUCHLINE_CONSOLE_IMPORT_WRITE_KEY" in response.text
