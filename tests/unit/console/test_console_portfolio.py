"""The portfolio page on the in-memory backend, fed views computed by touch's own portfolio code
and shaped by its API model (so the page reads what touch really answers)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from test_console_clients import backend as http_backend  # type: ignore[import-not-found]
from test_console_clients import ok  # type: ignore[import-not-found]
from test_console_views import backend, client, sign_in  # type: ignore[import-not-found]  # noqa: F401

from touchline.console.charts import BandColumn, band_columns_chart
from touchline.console.fake import InMemoryBackend
from touchline.console.ports import BackendRefused, BackendUnavailable
from touchline.touch.domain.portfolio import Book, By, Change, portfolio
from touchline.touch.portfolio_api import PortfolioView


def d(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


BOOK = Book(
    {"a": d(1), "b": d(1), "c": d(8)},
    [
        Change("a", "arr", d(1), 100_000), Change("a", "owner", d(1), label="aiko@example.com"),
        Change("b", "arr", d(1), 50_000), Change("b", "owner", d(1), label="ken@example.com"),
        Change("a", "band", d(6), 3.0), Change("a", "arr", d(8), 120_000), Change("b", "churned", d(9), 1.0),
        Change("c", "arr", d(8), 10_000),
    ],
)  # fmt: skip


def touch_view(by: By) -> dict[str, Any]:
    result = portfolio(BOOK, start=d(7), end=d(10), months=3, by=by)
    data = {**asdict(result), "period": "2026-Q3", "generated_at": d(10)}
    return PortfolioView.model_validate(data).model_dump(mode="json")


@pytest.fixture
def views(backend: InMemoryBackend) -> InMemoryBackend:  # noqa: F811
    backend.portfolio_views = {by: touch_view(by) for by in ("none", "csm", "tier")}
    return backend


async def test_a_stranger_is_sent_to_the_login_form(client: httpx.AsyncClient) -> None:  # noqa: F811
    response = await client.get("/portfolio")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_the_page_shows_retention_per_csm_and_bands_month_by_month(
    client: httpx.AsyncClient,  # noqa: F811
    views: InMemoryBackend,
) -> None:
    await sign_in(client)
    page = await client.get("/portfolio?period=2026-q3&by=csm&months=6")
    assert page.status_code == 200
    assert ("portfolio", {"period": "2026-Q3", "by": "csm", "months": 6}) in views.calls
    html = page.text
    assert 'href="/portfolio" aria-current="page"' in html  # linked from the nav
    retention = html.split('id="retention"')[1].split("</section>")[0]
    # Aiko reads Japanese. Cohort a (100k -> 120k) and b (50k, churned); c is new.
    assert "ロゴ解約率" in retention and "期首ARR" in retention
    total = retention.split('class="total"')[1].split("</tr>")[0]
    assert "<td>2</td><td>1</td><td>50.0 %</td><td>150,000</td><td>+20,000</td>" in total
    assert '<td class="grr">66.7 %</td><td class="nrr">80.0 %</td><td>1 · 10,000</td>' in total
    aiko = retention.split("aiko@example.com")[1].split("</tr>")[0]
    assert '<td class="grr">100.0 %</td><td class="nrr">120.0 %</td>' in aiko
    ken = retention.split("ken@example.com")[1].split("</tr>")[0]
    assert '<td class="grr">0.0 %</td>' in ken and "（CSM未設定）" in retention  # c has no CSM
    bands = html.split('id="bands-by-month"')[1].split("</table>")[0]
    assert [row.split("</th>")[0] for row in bands.split('<th scope="row">')[1:]] == ["2026-07", "2026-08", "2026-09"]
    assert "良好" in bands and "未計算" in bands
    september = bands.split("2026-09")[1].split("</tr>")[0]
    assert "<td>1 · 120,000</td>" in september and "<td>1 · 10,000</td>" in september
    assert 'role="img"' in html and "2026-09 良好: 120.0k" in html  # the chart, each segment named


async def test_the_whole_book_has_no_group_table(
    client: httpx.AsyncClient,  # noqa: F811
    views: InMemoryBackend,
) -> None:
    await sign_in(client)
    page = await client.get("/portfolio")
    assert page.status_code == 200 and 'id="bands-by-group"' not in page.text
    assert ("portfolio", {"period": "ttm", "by": "none", "months": 12}) in views.calls


@pytest.mark.parametrize(
    ("query", "name"),
    [("period=last+week", "period"), ("period=2026-13", "period"), ("by=region", "by"), ("months=7", "months")],
)
async def test_a_bad_parameter_is_refused_naming_it(
    client: httpx.AsyncClient,  # noqa: F811
    views: InMemoryBackend,
    query: str,
    name: str,
) -> None:
    await sign_in(client)
    page = await client.get(f"/portfolio?{query}")
    assert page.status_code == 422 and f"{name}:" in page.text


async def test_touch_refusing_the_view_is_shown_not_hidden(
    client: httpx.AsyncClient,  # noqa: F811
    backend: InMemoryBackend,  # noqa: F811
) -> None:
    async def refuse(*, period: str, by: str, months: int) -> dict[str, Any]:
        raise BackendRefused("touch", 422, "period: '2099' has not started yet")

    backend.portfolio = refuse  # type: ignore[method-assign]
    await sign_in(client)
    page = await client.get("/portfolio?period=2099")
    assert page.status_code == 200 and "has not started yet" in page.text and 'id="retention"' not in page.text


def test_the_band_chart_stacks_each_month_and_names_every_segment() -> None:
    svg = band_columns_chart(
        [BandColumn("2026-08", {"good": 3, "caution": 1}), BandColumn("2026-09", {})],
        bands=("good", "caution"),
        label="accounts per band",
        names={"good": "Good"},
    )
    assert svg.count("<rect") == 2 and "2026-08 Good: 3</title>" in svg and "2026-08 caution: 1</title>" in svg
    assert ">4</text>" in svg and ">0</text>" in svg and 'aria-label="accounts per band"' in svg


async def test_the_client_asks_touch_with_the_chosen_parameters() -> None:
    seen: list[httpx.Request] = []
    view = touch_view("tier")
    http = http_backend({"touch GET /v1/portfolio": ok(view)}, seen)
    assert await http.portfolio(period="2026-Q3", by="tier", months=6) == view
    assert dict(seen[-1].url.params) == {"period": "2026-Q3", "by": "tier", "months": "6"}
    refusing = http_backend(
        {
            "touch GET /v1/portfolio": lambda r: httpx.Response(
                422, json={"detail": [{"loc": ["query", "period"], "msg": "bad"}]}
            )
        }
    )
    with pytest.raises(BackendRefused, match="period: bad"):
        await refusing.portfolio(period="2099", by="none", months=12)
    with pytest.raises(BackendUnavailable, match="not found"):  # a touch without the route
        await http_backend({}).portfolio(period="ttm", by="none", months=12)
