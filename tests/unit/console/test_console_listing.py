"""The account list over touch's listing joined with health's scores, against stand-in services that
answer in touch's and health's real JSON shapes (touch: name-then-id order, limit/offset, no total)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from touchline.console import listing
from touchline.console.auth import User, UserStore, hash_password
from touchline.console.clients import HttpBackend, ServiceClient
from touchline.console.main import build_app
from touchline.console.models import AccountQuery
from touchline.console.ports import BackendRefused
from touchline.console.settings import ConsoleSettings
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AIKO, KEN, PASSWORD = "aiko@example.com", "ken@example.com", "correct horse battery"


def _band(score: float) -> str:
    return "good" if score >= 75 else "healthy" if score >= 50 else "caution" if score >= 25 else "action_required"


@dataclass
class Services:
    """touch's GET /v1/accounts and health's per-account and list reads, over the same accounts."""

    accounts: list[dict[str, Any]]  # touch listing rows
    scores: dict[str, float]
    total: bool = False  # whether touch's listing counts (it does not today)
    touch_down: bool = False
    touch_listing: bool = True
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def touch_list(self, request: httpx.Request) -> httpx.Response:
        if self.touch_down:
            raise httpx.ConnectError("refused", request=request)
        if not self.touch_listing:
            return httpx.Response(404, json={"detail": "Not Found"})
        p = request.url.params
        self.calls.append(("touch list", dict(p)))
        rows = [
            a
            for a in self.accounts
            if all(not p.get(k) or a[k] == p[k] for k in ("owner", "tier", "phase"))
            and (not p.get("q") or p["q"].lower() in (a["account_id"] + (a["name"] or "")).lower())
        ]
        rows.sort(key=lambda a: (a["name"] is None, a["name"] or "", a["account_id"]))
        limit, offset = int(p.get("limit", 50)), int(p.get("offset", 0))
        body: dict[str, Any] = {"accounts": rows[offset : offset + limit], "limit": limit, "offset": offset}
        if self.total:
            body["total"] = len(rows)
        return httpx.Response(200, json=body)

    def summary(self, account_id: str) -> dict[str, Any]:
        score = self.scores[account_id]
        return {"account_id": account_id, "score": score, "computed_score": score, "band": _band(score),
                "overridden": False, "usage_trend": -0.2, "days_since_login": 3,
                "as_of": NOW.isoformat()}  # fmt: skip

    async def health_get(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/clock":
            return httpx.Response(200, json={"now": NOW.isoformat()})
        if path == "/v1/accounts":
            p = request.url.params
            self.calls.append(("health list", dict(p)))
            rows = [self.summary(a) for a in sorted(self.scores) if not p.get("band") or self.band(a) == p["band"]]
            offset, limit = int(p.get("offset", 0)), int(p.get("limit", 100))
            return httpx.Response(200, json={"accounts": rows[offset : offset + limit]})
        if path.endswith("/history"):
            account = path.split("/")[3]
            points = [{"computed_at": (NOW - timedelta(days=2)).isoformat(), "score": self.scores.get(account, 0)}]
            return httpx.Response(200, json={"account_id": account, "history": points})
        account = path.split("/")[3]
        self.calls.append(("health get", {"account_id": account}))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(3):  # let the other requests in
            await asyncio.sleep(0)
        self.in_flight -= 1
        if account not in self.scores:
            return httpx.Response(404, json={"detail": f"account {account!r} has no health score"})
        return httpx.Response(200, json={**self.summary(account), "measures": [], "overrides": []})

    def band(self, account_id: str) -> str:
        return _band(self.scores[account_id])

    def backend(self) -> HttpBackend:
        async def touch(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/accounts":
                return self.touch_list(request)
            if self.touch_down:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(404, json={"detail": "unknown"})

        async def notify(request: httpx.Request) -> httpx.Response:
            account = request.url.params["account_id"]
            return httpx.Response(200, json={"tasks": [{"id": f"t-{account}", "account_id": account}]})

        def client(name: str, handler: Any) -> ServiceClient:
            transport = httpx.MockTransport(handler)
            return ServiceClient(name, httpx.AsyncClient(transport=transport, base_url=f"http://{name}"))

        return HttpBackend(health=client("health", self.health_get), touch=client("touch", touch),
                           notify=client("notify", notify))  # fmt: skip


def touch_row(n: int, *, owner: str = AIKO, tier: str = "low", renewal: date | None = None) -> dict[str, Any]:
    return {"account_id": f"acc-{n:03d}", "name": f"Company {n:03d}", "tier": tier, "phase": "adoption",
            "reason": "low touch by rule mid", "owner": owner,
            "renewal_date": renewal.isoformat() if renewal else None, "value": 12000.0}  # fmt: skip


def fleet(n: int = 40) -> Services:
    """n accounts: even ones Aiko's, odd ones Ken's; scores fall as n grows; every third has no renewal date."""
    accounts = [
        touch_row(i, owner=AIKO if i % 2 == 0 else KEN, tier="high" if i % 5 == 0 else "low",
                  renewal=None if i % 3 == 0 else date(2027, 1, 1) + timedelta(days=(i * 7) % 50))
        for i in range(n)
    ]  # fmt: skip
    return Services(accounts=accounts, scores={a["account_id"]: 99.0 - 2 * i for i, a in enumerate(accounts)})


async def test_my_accounts_are_touchs_rows_for_my_email_with_healths_band_score_and_trend() -> None:
    services = fleet()
    page = await services.backend().list_accounts(AccountQuery(owner=AIKO, limit=5))
    assert {c[1]["owner"] for c in services.calls if c[0] == "touch list"} == {AIKO}
    assert {r.owner for r in page.items} == {AIKO} and page.total == 20 and page.has_next
    # sorted by score, lowest first, across all of Aiko's accounts (not only touch's first page)
    assert [r.account_id for r in page.items] == ["acc-038", "acc-036", "acc-034", "acc-032", "acc-030"]
    row = page.items[0]
    assert (row.score, row.band, row.trend, row.open_tasks) == (23.0, "action_required", [23.0], 1)
    assert (row.tier, row.phase, row.name, row.days_since_login) == ("low", "adoption", "Company 038", 3)


async def test_sorting_by_name_pages_through_touch_and_asks_health_only_for_the_pages_rows() -> None:
    services = fleet()
    page = await services.backend().list_accounts(AccountQuery(owner=AIKO, sort="name", limit=5, offset=5))
    assert [r.account_id for r in page.items] == ["acc-010", "acc-012", "acc-014", "acc-016", "acc-018"]
    [touch_call] = [c[1] for c in services.calls if c[0] == "touch list"]
    assert (touch_call["limit"], touch_call["offset"]) == ("6", "5")  # one more row tells if a next page exists
    asked = sorted(c[1]["account_id"] for c in services.calls if c[0] == "health get")
    assert asked == [r.account_id for r in page.items]
    assert page.total is None and page.has_next and all(r.band for r in page.items)


async def test_the_pager_shows_touchs_total_when_touch_counts() -> None:
    services = fleet()
    services.total = True
    page = await services.backend().list_accounts(AccountQuery(owner=KEN, sort="name", limit=5))
    assert page.total == 20 and page.has_next


async def test_tier_phase_and_name_filters_reach_touch() -> None:
    services = fleet()
    query = AccountQuery(tier="high", phase="adoption", search="company 01", sort="name")
    page = await services.backend().list_accounts(query)
    [sent] = [c[1] for c in services.calls if c[0] == "touch list"]
    assert (sent["tier"], sent["phase"], sent["q"]) == ("high", "adoption", "company 01")
    assert [r.account_id for r in page.items] == ["acc-010", "acc-015"]


async def test_sorting_by_renewal_orders_every_match_and_puts_accounts_without_a_date_last() -> None:
    services = fleet()
    for sort in ("renewal", "-renewal"):
        page = await services.backend().list_accounts(AccountQuery(owner=AIKO, sort=sort, limit=50))
        dates = [r.renewal_date for r in page.items]
        known = [d for d in dates if d is not None]
        assert known == sorted(known, reverse=sort.startswith("-")) and dates[len(known) :] == [None] * 7
        assert page.total == 20 and not page.has_next


async def test_a_band_filter_with_my_accounts_counts_only_the_matching_band() -> None:
    services = fleet()
    page = await services.backend().list_accounts(AccountQuery(owner=AIKO, band="caution", limit=50))
    expected = [a for a in services.scores if services.band(a) == "caution" and int(a[4:]) % 2 == 0]
    assert {r.account_id for r in page.items} == set(expected) and page.total == len(expected)
    assert {r.band for r in page.items} == {"caution"}


async def test_health_is_asked_at_most_sixteen_accounts_at_a_time() -> None:
    services = fleet(120)
    await services.backend().list_accounts(AccountQuery(owner=AIKO, sort="-score", limit=50))
    assert sum(1 for c in services.calls if c[0] == "health get") == 60  # every match, once
    assert 1 < services.most_in_flight <= 16


async def test_many_matches_walk_healths_list_instead_of_one_call_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "HEALTH_EACH_MAX", 5)
    monkeypatch.setattr(listing, "PAGE", 7)
    services = fleet()
    page = await services.backend().list_accounts(AccountQuery(owner=KEN, band="healthy", limit=3))
    assert {r.band for r in page.items} == {"healthy"} and page.total == 6
    assert [r.score for r in page.items] == sorted(r.score or 0 for r in page.items)
    walked = [c[1] for c in services.calls if c[0] == "health list"]
    assert {w["band"] for w in walked} == {"healthy"} and len(walked) >= 2
    assert not [c for c in services.calls if c[0] == "health get"]


async def test_every_page_of_touchs_listing_is_read_for_a_sort_touch_cannot_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listing, "PAGE", 6)
    for counts in (False, True):
        services = fleet()
        services.total = counts
        page = await services.backend().list_accounts(AccountQuery(owner=AIKO, sort="-name", limit=4))
        assert [r.account_id for r in page.items] == ["acc-038", "acc-036", "acc-034", "acc-032"]
        offsets = sorted(int(c[1]["offset"]) for c in services.calls if c[0] == "touch list")
        assert offsets == [0, 6, 12, 18] and page.total == 20


async def test_more_matches_than_the_scan_limit_show_no_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "PAGE", 5)
    monkeypatch.setattr(listing, "TOUCH_SCAN_MAX", 10)
    services = fleet()
    page = await services.backend().list_accounts(AccountQuery(owner=AIKO, sort="renewal", limit=4))
    assert page.total is None and page.has_next and len(page.items) == 4


async def test_an_account_health_has_not_scored_yet_is_listed_without_a_score_last() -> None:
    services = fleet(6)
    del services.scores["acc-000"]
    page = await services.backend().list_accounts(AccountQuery(owner=AIKO, sort="-score"))
    assert [r.account_id for r in page.items] == ["acc-002", "acc-004", "acc-000"]
    assert (page.items[-1].score, page.items[-1].band) == (None, None)


async def test_without_touchs_listing_or_with_touch_down_the_list_is_refused_with_the_reason() -> None:
    services = fleet()
    services.touch_listing = False
    with pytest.raises(BackendRefused) as missing:
        await services.backend().list_accounts(AccountQuery(owner=AIKO))
    assert missing.value.status == 501 and "touch's account listing" in missing.value.message
    services.touch_down = True
    with pytest.raises(BackendRefused) as down:
        await services.backend().list_accounts(AccountQuery(tier="high"))
    assert down.value.status == 503 and "unreachable (ConnectError)" in down.value.message


async def test_healths_list_still_shows_when_touch_is_down_without_tiers() -> None:
    services = fleet(4)
    services.touch_down = True
    page = await services.backend().list_accounts(AccountQuery(limit=10))
    assert [r.account_id for r in page.items] == ["acc-000", "acc-001", "acc-002", "acc-003"]
    assert {r.tier for r in page.items} == {None} and page.items[0].band == "good"


@pytest.fixture
async def console() -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    services = fleet()
    store = UserStore({})
    store.put(User(email=AIKO, name="Aiko", password_hash=hash_password(PASSWORD), locale="en"))
    app = build_app(CommonSettings(env="test"), ConsoleSettings(page_size=10), backend=services.backend(), users=store)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as c:
            form = await c.get("/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert token
            data = {"email": AIKO, "password": PASSWORD, "login_token": token.group(1)}
            assert (await c.post("/login", data=data)).status_code == 303
            yield c, services


async def test_the_accounts_page_opens_on_my_accounts_with_their_bands_and_no_notice(
    console: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = console
    page = await client.get("/accounts")
    assert page.status_code == 200 and 'class="flash warn"' not in page.text
    assert "Company 038" in page.text and KEN not in page.text and "(20" in page.text
    assert 'data-band="action_required"' in page.text


async def test_the_accounts_page_falls_back_to_healths_list_with_a_notice_when_touch_is_down(
    console: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = console
    services.touch_down = True
    page = await client.get("/accounts?tier=high")
    assert page.status_code == 200 and "unreachable" in page.text and "Company" not in page.text
    assert "acc-001" in page.text  # health's list: all accounts, ids for names
