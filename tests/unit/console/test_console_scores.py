"""The scores page: the trust report and hand-set vs learned weights, on the in-memory backend;
and HttpBackend reading them in the shapes health answers (its typed response model)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from test_console_clients import backend as http_backend  # type: ignore[import-not-found]
from test_console_clients import ok
from test_console_views import AIKO, csrf_of, sign_in, users  # type: ignore[import-not-found]

from touchline.console import weights
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.ports import BackendRefused
from touchline.console.settings import ConsoleSettings
from touchline.health.weights_api import WeightsComparisonOut
from touchline.shared.settings import CommonSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _bins(observed: float) -> list[dict[str, Any]]:
    return [
        {"low": i / 5, "high": (i + 1) / 5, "count": 4 if i in (0, 4) else 0,
         "predicted": (0.1 if i == 0 else 0.9) if i in (0, 4) else None,
         "observed": (0.0 if i == 0 else observed) if i in (0, 4) else None}
        for i in range(5)
    ]  # fmt: skip


LEARNED = {
    "scorecard": "default",
    "proposed": True,
    "refused": None,
    "churned_accounts": 14,
    "renewed_accounts": 19,
    "rows": 99,
    "folds": 5,
    "measures": [
        {"measure": "login_days", "hand_weight": 50.0, "learned_weight": 81.3, "coefficient": -4.2, "unsupported": False},
        {"measure": "nps", "hand_weight": 50.0, "learned_weight": 18.7, "coefficient": -1.0, "unsupported": False},
    ],
    "horizons": [
        {"days": 30, "churned": 14, "retained": 19,
         "hand": {"auc": 0.712, "brier": 0.201, "reliability": _bins(0.5)},
         "learned": {"auc": 0.864, "brier": 0.143, "reliability": _bins(1.0)}},
    ],
}  # fmt: skip
REFUSED = {
    "scorecard": "enterprise",
    "proposed": False,
    "refused": "too few outcomes to fit: 2 churned and 3 renewed accounts have a score history",
    "churned_accounts": 2,
    "renewed_accounts": 3,
    "rows": 5,
    "folds": 0,
    "measures": [{"measure": "nps", "hand_weight": 100.0, "learned_weight": None, "coefficient": None,
                  "unsupported": False}],
    "horizons": [],
}  # fmt: skip
TRUST = {
    "outcomes": 33,
    "horizons": [
        {"days": 30, "auc": 0.71, "churned": 14, "retained": 19, "unscored": 0},
        {"days": 90, "auc": None, "churned": 0, "retained": 19, "unscored": 14},
    ],
}


def test_the_sample_answers_are_what_healths_typed_response_allows() -> None:
    for body in (LEARNED, REFUSED):
        assert WeightsComparisonOut.model_validate(body).model_dump() == body


@pytest.fixture
def fake() -> InMemoryBackend:
    b = InMemoryBackend(now=NOW)
    b.trust_report = weights.trust_report(TRUST)
    b.comparisons = {"default": weights.comparison(LEARNED), "enterprise": weights.comparison(REFUSED)}
    b.proposals = {"default": "# Proposed weights for scorecard 'default'\nscorecards: []\n"}
    return b


@pytest.fixture
async def client(fake: InMemoryBackend) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=fake, users=users())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
            yield c


async def test_the_scores_page_needs_a_session(client: httpx.AsyncClient) -> None:
    for path in ("/scores", "/scores/default/proposal.yaml"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


async def test_the_page_shows_the_trust_report_and_both_weight_sets_side_by_side(client: httpx.AsyncClient) -> None:
    await sign_in(client, AIKO)
    await client.post("/lang", data={"csrf": await csrf_of(client), "locale": "en"})
    page = (await client.get("/scores?scorecard=default")).text
    assert 'href="/scores" aria-current="page"' in page
    trust = page[page.index('id="trust"') : page.index('id="weights"')]
    assert "0.710" in trust and "33 outcomes recorded" in trust and "–" in trust  # no AUC at 90 days
    table = page[page.index('id="weights-table"') : page.index('id="comparison-table"')]
    assert "Login days (last 30)" in table and "50.0" in table and "81.3" in table and "18.7" in table
    comparison = page[page.index('id="comparison-table"') : page.index('id="calibration-30"')]
    assert "0.712" in comparison and "0.864" in comparison and "0.201" in comparison and "0.143" in comparison
    calibration = page[page.index('id="calibration-30"') :]
    assert "80–100 %" in calibration and "0.90" in calibration and "0.50" in calibration
    assert "Fitted on 14 cancelled and 19 renewed accounts" in page
    assert 'href="/scores/default/proposal.yaml"' in page


async def test_too_few_outcomes_show_the_reason_and_no_download(client: httpx.AsyncClient) -> None:
    await sign_in(client, AIKO)
    page = (await client.get("/scores?scorecard=enterprise")).text
    assert 'id="refused"' in page and "too few outcomes to fit: 2 churned and 3 renewed" in page
    assert "proposal.yaml" not in page and 'id="comparison-table"' not in page


async def test_the_page_speaks_japanese(client: httpx.AsyncClient) -> None:
    await sign_in(client, AIKO)  # Aiko's profile says ja
    page = (await client.get("/scores")).text
    assert "スコアは信頼できるか" in page and "手動設定" in page and "学習" in page


async def test_an_unknown_scorecard_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    await sign_in(client, AIKO)
    r = await client.get("/scores?scorecard=nope")
    assert r.status_code == 422 and "scorecard: must be one of default, enterprise" in r.text


async def test_the_proposal_downloads_as_yaml_and_is_refused_when_there_is_none(client: httpx.AsyncClient) -> None:
    await sign_in(client, AIKO)
    r = await client.get("/scores/default/proposal.yaml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    assert 'filename="default-proposal.yaml"' in r.headers["content-disposition"]
    assert r.text.startswith("# Proposed weights for scorecard 'default'")
    r = await client.get("/scores/enterprise/proposal.yaml")
    assert r.status_code == 409 and "too few outcomes" in r.text
    assert (await client.get("/scores/nope/proposal.yaml")).status_code == 404


async def test_http_backend_reads_healths_trust_and_comparison() -> None:
    seen: list[httpx.Request] = []
    b = http_backend(
        {
            "health GET /v1/trust": ok(TRUST),
            "health GET /v1/scorecards": ok({"scorecards": [{"name": "default", "default": True, "match": {},
                                                             "measures": ["nps"]}]}),
            "health GET /v1/scorecards/default/learned-weights": ok(LEARNED),
            "health GET /v1/scorecards/enterprise/learned-weights/proposal.yaml": lambda r: httpx.Response(
                409, json={"detail": "too few outcomes to fit"}),
            "health GET /v1/scorecards/default/learned-weights/proposal.yaml": lambda r: httpx.Response(
                200, text="# Proposed\n", headers={"content-type": "application/yaml"}),
        },
        seen,
    )  # fmt: skip
    assert await b.scorecards() == ["default"]
    trust = await b.trust()
    assert trust.outcomes == 33 and trust.horizons[1].auc is None and trust.horizons[1].unscored == 14
    cmp = await b.weights_comparison("default")
    assert cmp is not None and cmp.proposed and cmp.folds == 5
    assert [(m.measure, m.hand, m.learned) for m in cmp.measures] == [("login_days", 50.0, 81.3), ("nps", 50.0, 18.7)]
    assert cmp.horizons[0].learned.auc == 0.864 and cmp.horizons[0].hand.bins[4].observed == 0.5
    assert await b.weights_comparison("a/b") is None
    assert seen[-1].url.raw_path == b"/v1/scorecards/a%2Fb/learned-weights"  # an id cannot reach another route
    assert await b.weights_proposal("default") == "# Proposed\n"
    with pytest.raises(BackendRefused) as exc:
        await b.weights_proposal("enterprise")
    assert exc.value.status == 409 and "too few outcomes" in exc.value.message
    assert await b.weights_proposal("nope") is None
    await b.aclose()
