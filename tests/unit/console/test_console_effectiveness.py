"""The effectiveness page (touch's report) on the in-memory backend, and its HTTP client."""

from __future__ import annotations

import httpx
from test_console_clients import backend as http_backend  # type: ignore[import-not-found]
from test_console_clients import ok  # type: ignore[import-not-found]
from test_console_views import backend, client, sign_in  # type: ignore[import-not-found]  # noqa: F401

from touchline.console.fake import InMemoryBackend
from touchline.console.ports import BackendRefused


async def test_a_stranger_is_sent_to_the_login_form(client: httpx.AsyncClient) -> None:  # noqa: F811
    response = await client.get("/effectiveness")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_the_page_shows_each_outcome_against_the_holdout_and_the_funnel(
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    await sign_in(client)
    page = await client.get("/effectiveness?playbook=risk&days=90")
    assert page.status_code == 200
    html = page.text
    assert 'href="/effectiveness" aria-current="page"' in html  # linked from the nav
    section = html.split('id="variant-tech"')[1]
    # Aiko reads Japanese: the outcome names, the verdicts and the counts
    assert "解約" in section and "18/180 · 10.0 %" in section and "6/20 · 30.0 %" in section
    assert "プレイブックありの方が良い" in section and "はっきりした差はありません" in section
    assert "[-41.0, -2.0]" in section  # the difference's interval, in points
    funnel = section.split("ファネル")[1]
    assert "notice" in funnel and "<td>180</td><td>90</td><td>36</td>" in funnel


async def test_too_few_accounts_is_said_plainly(client: httpx.AsyncClient) -> None:  # noqa: F811
    await sign_in(client)
    page = await client.get("/effectiveness?playbook=onboarding")
    assert "件数が少なすぎて判断できません" in page.text and "各グループ20件以上" in page.text


async def test_an_unknown_playbook_or_window_is_refused_naming_the_parameter(
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    await sign_in(client)
    unknown = await client.get("/effectiveness?playbook=nope")
    assert unknown.status_code == 422 and "playbook:" in unknown.text and "nope" in unknown.text
    window = await client.get("/effectiveness?days=7")
    assert window.status_code == 422 and "days:" in window.text


async def test_touch_refusing_the_report_is_shown_not_hidden(
    client: httpx.AsyncClient,  # noqa: F811
    backend: InMemoryBackend,  # noqa: F811
) -> None:
    async def refuse(playbook: str, *, days: int | None) -> dict[str, object] | None:
        raise BackendRefused("touch", 422, "days: Input should be less than or equal to 730")

    backend.effectiveness = refuse  # type: ignore[method-assign]
    await sign_in(client)
    page = await client.get("/effectiveness?playbook=risk")
    assert page.status_code == 200 and "days: Input should be less than or equal to 730" in page.text


async def test_the_client_reads_touchs_playbooks_and_report() -> None:
    seen: list[httpx.Request] = []
    report = {"playbook": "risk", "days": 30, "variants": []}
    http = http_backend(
        {
            "touch GET /v1/playbooks": ok([{"name": "risk"}, {"name": "churn"}]),
            "touch GET /v1/playbooks/risk/effectiveness": ok(report),
        },
        seen,
    )
    assert await http.playbook_names() == ["churn", "risk"]
    assert await http.effectiveness("risk", days=30) == report
    assert seen[-1].url.params["days"] == "30"
    assert await http.effectiveness("nope", days=None) is None  # touch's 404
