"""Learned score weights on the real Postgres: a small stored history (score rows and lifecycle
outcomes written as health stores them), read through the API's SQL, fitted, compared, proposed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import text

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.main import build_app, propose_weights
from touchline.health.settings import HealthSettings
from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings

T = datetime(2031, 9, 1, tzinfo=UTC)
SEG = f"seg-{uuid.uuid4().hex[:8]}"  # this module's own card: other tests' history never matches it
FEW = f"few-{uuid.uuid4().hex[:8]}"


def _card(name: str, plan: str) -> dict[str, Any]:
    return {
        "name": name,
        "match": {"plan": [plan]},
        "measures": [
            {
                "name": "login_days",
                "group": "engagement",
                "weight": 50,
                "source": {"aggregate": "login_days"},
                "scoring": {"type": "linear", "from": [0, 0], "to": [15, 100]},
            },
            {
                "name": "support_tickets",
                "group": "other",
                "weight": 50,
                "source": {"aggregate": "support_tickets"},
                "scoring": {"type": "linear", "from": [0, 100], "to": [6, 0]},
            },
        ],
    }


@pytest.fixture(scope="module")
def cards_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped scorecards plus two segment cards of this test."""
    document = load_scorecards().model_dump(mode="json", by_alias=True, exclude_none=True)
    document["scorecards"] += [_card(SEG, SEG), _card(FEW, FEW)]
    path = tmp_path_factory.mktemp("cards") / "cards.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def _store(common: CommonSettings) -> None:
    """Twelve churned and twelve renewed accounts on SEG: churned ones logged in less (the signal),
    tickets are the same for both (noise). Rows 120, 75 and 45 days before the outcome, so the
    90/60/30-day snapshots are those rows. Two outcomes on FEW: too few to fit."""
    rows, facts = [], []
    for i in range(24):
        account, churned = f"{SEG}-{i}", i % 2 == 0
        for days, drift in ((120, 0), (75, 1), (45, 2)):
            logins = 4 + i % 3 - drift if churned else 9 + i % 4 + drift
            measures = [["login_days", logins, None, 0.5, 0], ["support_tickets", i % 5, None, 0.5, 0]]
            rows.append((account, T - timedelta(days=days), SEG, measures))
        facts.append((f"{account}-out", account, "cancelled" if churned else "renewed", T))
    # A later row scored by another card: the 30-day snapshot of this account is then not SEG's.
    rows.append((f"{SEG}-0", T - timedelta(days=35), "default", [["login_days", 14, None, 1, 0]]))
    for i in range(2):
        rows.append((f"{FEW}-{i}", T - timedelta(days=100), FEW, [["login_days", i * 10, None, 1, 0]]))
        facts.append((f"{FEW}-{i}-out", f"{FEW}-{i}", "cancelled" if i else "renewed", T))
    engine = make_engine(common.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO health.score_history (account_id, computed_at, score, computed_score, band,
                    scorecard, overridden, measures, cause, recorded_at)
                    VALUES (:a, :at, 50, 50, 'caution', :card, false, CAST(:m AS json), 'test', :at)"""
                ),
                [{"a": a, "at": at, "card": c, "m": json.dumps(m)} for a, at, c, m in rows],
            )
            await conn.execute(
                text("INSERT INTO health.lifecycle (event_id, account_id, kind, at) VALUES (:e, :a, :k, :at)"),
                [{"e": e, "a": a, "k": k, "at": at} for e, a, k, at in facts],
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def client(common: CommonSettings, cards_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    await _store(common)
    app: FastAPI = build_app(common, HealthSettings(scorecards_path=cards_file, learn_min_outcomes=5))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer dev-api-token"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
            yield c


async def test_the_comparison_reads_the_history_and_learns_which_measure_predicts_churn(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get("/v1/scorecards")).json()["scorecards"]
    assert {"default", "enterprise", SEG, FEW} <= {c["name"] for c in listed}
    r = await client.get(f"/v1/scorecards/{SEG}/learned-weights")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["proposed"] is True and body["refused"] is None
    assert (body["churned_accounts"], body["renewed_accounts"]) == (12, 12)
    assert body["rows"] == 24 * 3 - 1  # one 30-day snapshot belonged to another card
    assert body["folds"] == 5
    weights = {m["measure"]: m for m in body["measures"]}
    assert weights["login_days"]["hand_weight"] == 50
    assert weights["login_days"]["learned_weight"] > weights["support_tickets"]["learned_weight"]
    assert weights["login_days"]["coefficient"] < 0
    by_days = {h["days"]: h for h in body["horizons"]}
    assert sorted(by_days) == [30, 60, 90]
    assert (by_days[30]["churned"], by_days[30]["retained"]) == (11, 12)
    assert (by_days[90]["churned"], by_days[90]["retained"]) == (12, 12)
    for h in by_days.values():
        assert h["learned"]["auc"] >= h["hand"]["auc"]
        assert h["learned"]["auc"] == 1.0  # logins alone separate these accounts
        assert sum(b["count"] for b in h["learned"]["reliability"]) == h["churned"] + h["retained"]
        assert 0 <= h["hand"]["brier"] <= 1


async def test_the_proposal_is_a_scorecards_file_the_loader_accepts(client: httpx.AsyncClient, tmp_path: Path) -> None:
    r = await client.get(f"/v1/scorecards/{SEG}/learned-weights/proposal.yaml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    assert r.text.startswith(f"# Proposed weights for scorecard '{SEG}'")
    path = tmp_path / "proposal.yaml"
    path.write_text(r.text)
    card = load_scorecards(path).by_name(SEG)
    assert card is not None
    login, tickets = card.measures
    assert login.weight > tickets.weight and login.weight + tickets.weight == pytest.approx(100, abs=0.2)


async def test_too_few_outcomes_are_said_plainly_and_give_no_proposal(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/v1/scorecards/{FEW}/learned-weights")).json()
    assert body["proposed"] is False and body["horizons"] == []
    assert body["refused"].startswith("too few outcomes to fit: 1 churned and 1 renewed")
    assert all(m["learned_weight"] is None for m in body["measures"])
    r = await client.get(f"/v1/scorecards/{FEW}/learned-weights/proposal.yaml")
    assert r.status_code == 409 and "too few outcomes" in r.json()["detail"]


async def test_unknown_scorecards_and_bad_horizons_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/scorecards/nope/learned-weights")
    assert r.status_code == 404 and "no scorecard named 'nope'" in r.json()["detail"]
    r = await client.get(f"/v1/scorecards/{SEG}/learned-weights", params={"horizons": "30,x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "horizons"]
    r = await client.get(f"/v1/scorecards/{SEG}/learned-weights", params={"horizons": "0"})
    assert r.status_code == 422
    r = await client.get(f"/v1/scorecards/{SEG}/learned-weights", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


async def test_the_cli_writes_the_proposal_and_refuses_plainly_without_enough_outcomes(
    client: httpx.AsyncClient,
    common: CommonSettings,
    cards_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = HealthSettings(scorecards_path=cards_file)
    out = tmp_path / "proposal.yaml"
    argv = ["--scorecard", SEG, "--out", str(out), "--min-outcomes", "5"]
    assert await propose_weights(argv, common=common, settings=settings) == 0
    stdout = capsys.readouterr().out
    assert "AUC hand" in stdout and f"wrote {out}" in stdout
    card = load_scorecards(out).by_name(SEG)
    assert card is not None and card.measures[0].weight > card.measures[1].weight
    few = tmp_path / "few.yaml"
    assert await propose_weights(["--scorecard", FEW, "--out", str(few)], common=common, settings=settings) == 1
    assert "too few outcomes to fit" in capsys.readouterr().err and not few.exists()
    assert await propose_weights(["--scorecard", "nope"], common=common, settings=settings) == 1
    assert "no scorecard named 'nope'" in capsys.readouterr().err
