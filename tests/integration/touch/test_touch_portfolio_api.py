"""The portfolio view on the real stack: group events with ARR, a cancellation and a health band
through the topics, then GET /v1/portfolio per CSM; and its errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import new_account  # type: ignore[import-not-found]

DAY = timedelta(days=1)


def next_month(t: datetime) -> datetime:
    return datetime(t.year + t.month // 12, t.month % 12 + 1, 1, tzinfo=UTC)


async def test_retention_and_bands_per_csm_from_what_touch_consumed(touch: Touch) -> None:
    t0 = await touch.sim.fresh_start()
    csm = f"csm-{uuid.uuid4().hex[:8]}@example.com"  # the session's database holds other tests' accounts
    grows, shrinks, leaves, joins = (touch.account(new_account()) for _ in range(4))
    await touch.feed.group(grows, t0, arr=100_000, csm_owner=csm)
    await touch.feed.group(shrinks, t0, mrr=10_000, csm_owner=csm)  # 120k a year
    await touch.feed.group(leaves, t0, arr=50_000, csm_owner=csm)
    month = next_month(t0)
    changed = month + 5 * DAY
    await touch.sim.set(changed)
    await touch.feed.group(grows, changed, arr=150_000)
    await touch.feed.group(shrinks, changed, arr=90_000)
    await touch.feed.track(leaves, changed, "cancelled")
    await touch.feed.group(joins, changed, arr=30_000, csm_owner=csm)
    await touch.feed.health(grows, changed, band="good", previous_band="caution")
    now = changed + DAY
    await touch.sim.set(now)

    period = f"{month.year:04d}-{month.month:02d}"
    response = await touch.client.get("/v1/portfolio", params={"period": period, "by": "csm", "months": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["by"]) == (period, "csm")
    # a month not over yet ends now
    assert (datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])) == (month, now)
    [mine] = [g for g in body["groups"] if g["key"] == csm]
    r = mine["retention"]
    # cohort 270k: +50k expansion, -30k contraction, -50k churned; the new 30k account is outside
    assert (r["starting_accounts"], r["churned_accounts"], r["logo_churn"]) == (3, 1, pytest.approx(1 / 3))
    assert (r["starting_arr"], r["expansion"], r["contraction"], r["churned_arr"]) == (270_000, 50_000, 30_000, 50_000)
    assert r["grr"] == pytest.approx(190 / 270) and r["nrr"] == pytest.approx(240 / 270)
    assert (r["new_accounts"], r["new_arr"]) == (1, 30_000)
    before, this = mine["months"]
    assert before["month"] == f"{t0.year:04d}-{t0.month:02d}" and this["month"] == period
    assert {b["band"]: (b["accounts"], b["arr"]) for b in before["bands"] if b["accounts"]} == {
        "unscored": (3, 270_000)
    }
    assert {b["band"]: (b["accounts"], b["arr"]) for b in this["bands"] if b["accounts"]} == {
        "good": (1, 150_000),
        "unscored": (2, 120_000),
    }
    assert body["total"]["retention"]["starting_arr"] >= 270_000  # the whole book holds ours


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2036-13"}, "period"),
        ({"period": "last week"}, "period"),
        ({"period": "2999"}, "period"),
        ({"by": "region"}, "by"),
        ({"months": "0"}, "months"),
        ({"months": "37"}, "months"),
    ],
)
async def test_a_bad_parameter_is_a_422_naming_it(touch: Touch, params: dict[str, str], field: str) -> None:
    response = await touch.client.get("/v1/portfolio", params=params)
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["query", field]]


async def test_the_portfolio_needs_the_bearer_token(touch: Touch) -> None:
    response = await touch.client.get("/v1/portfolio", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
