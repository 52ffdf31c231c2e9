"""Deterministic sample data for the console: demo mode, browser tests, screenshots and the benchmark.

Accounts in every band, tiers with reasons, enrolments with step history, tasks (some overdue),
timelines and NPS answers with Japanese and English comments.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .fake import InMemoryBackend, band_of
from .models import (
    Contribution,
    Enrolment,
    Milestone,
    ScoreDetail,
    ScorePoint,
    StepRecord,
    SurveyAnswer,
    Task,
    TierInfo,
    TimelineItem,
)
from .weights import (
    CalibrationBin,
    HorizonComparison,
    MeasureWeight,
    TrustHorizon,
    TrustReport,
    WeightsComparison,
    WeightSide,
)

_NAMES = ["Aozora", "Hikari", "Sakura", "Kawa", "Yama", "Umi", "Mori", "Hoshi", "Tsuki", "Kaze", "Nami", "Sora"]
_SUFFIX = ["Systems", "Foods", "Logistics", "Bank", "Labs", "Retail", "Studio", "Works"]
_MEASURES = [  # measures of health's default scorecard, so the demo shows their translated labels
    ("active_users_ratio", "deployment"),
    ("days_since_login", "engagement"),
    ("days_since_contact", "engagement"),
    ("relationship", "engagement"),
    ("key_features_share", "adoption"),
    ("usage_trend", "adoption"),
    ("roi", "roi"),
]
_COMMENTS = [
    (3, "画面が使いにくいです。レポートの出力が遅い。"),
    (4, "サポートの対応が遅いし、設定が分かりにくい。"),
    (6, "The dashboard is slow and reports are confusing."),
    (7, "機能は十分だが価格が高い。"),
    (8, "Good product, onboarding training helped a lot."),
    (9, "サポートの対応が早くて助かりました。レポート機能が便利。"),
    (10, "ダッシュボードが見やすく、チーム全員が毎日使っています。"),
    (10, "Great support team and an intuitive dashboard."),
    (2, "導入時の設定が難しく、マニュアルも分かりにくい。"),
    (9, "Reports save us hours every week."),
]


def demo_backend(
    *, now: datetime, accounts: int = 60, owners: tuple[str, ...] = ("csm@example.com",)
) -> InMemoryBackend:
    """Deterministic sample data: accounts in every band, tiers, enrolments, tasks, timeline, NPS."""
    rng = random.Random(8)
    backend = InMemoryBackend(now=now)
    for i in range(accounts):
        account_id = f"acc-{i:05d}"
        name = f"{_NAMES[i % len(_NAMES)]} {_SUFFIX[(i // len(_NAMES)) % len(_SUFFIX)]} {i}"
        score = round(rng.uniform(5, 98), 1) if i % 7 else round(rng.uniform(5, 22), 1)
        contributions = _contributions(rng, score, missing_roi=i % 3 == 0)
        reasons = [
            f"{c.measure} {c.score:.0f}"
            for c in sorted(contributions, key=lambda c: c.score or 0)[:2]
            if c.score is not None
        ]
        backend.scores[account_id] = ScoreDetail(
            account_id=account_id,
            name=name,
            score=score,
            band=band_of(score),
            computed_at=now - timedelta(hours=rng.randint(1, 48)),
            contributions=contributions,
            reasons=reasons,
            usage_trend=round((score - 50) / 80 + rng.uniform(-0.2, 0.2), 2),
            days_since_login=float(rng.randint(0, 3) if score > 40 else rng.randint(5, 40)),
        )
        walk, points = score + rng.uniform(-25, 25), []
        for day in range(60, -1, -4):
            walk = min(100.0, max(0.0, walk + (score - walk) * 0.3 + rng.uniform(-4, 4)))
            points.append(ScorePoint(at=now - timedelta(days=day), score=round(walk, 1), band=band_of(walk)))
        points[-1] = ScorePoint(at=now - timedelta(hours=2), score=score, band=band_of(score))
        backend.history_points[account_id] = points
        tier = "high" if i % 5 == 0 else "low" if i % 5 in (1, 2) else "tech"
        phase = ("onboarding", "adoption", "retention", "retention")[i % 4]
        backend.tiers[account_id] = TierInfo(
            account_id=account_id,
            tier=tier,
            reason={
                "high": "ARR ≥ 10,000,000 JPY",
                "low": "ARR ≥ 1,000,000 JPY",
                "tech": "long tail (ARR < 1,000,000 JPY)",
            }[tier],
            phase=phase,
            owner=owners[i % len(owners)] if i % 4 != 3 else "other@example.com",
            renewal_date=(now + timedelta(days=rng.randint(10, 360))).date(),
            name=name,
        )
        _demo_activity(
            backend,
            rng,
            account_id=account_id,
            index=i,
            now=now,
            band=band_of(score),
            owner=backend.tiers[account_id].owner,
        )
    backend.effectiveness_reports = {
        "risk": sample_effectiveness(now=now),
        "onboarding": sample_effectiveness(now=now, few=True),
    }
    _demo_weights(backend)
    _demo_feedback(backend, now=now, accounts=accounts)
    backend.portfolio_views = {by: sample_portfolio(now=now, by=by) for by in ("none", "csm", "tier")}
    return backend


def _rate(
    outcome: str, k1: int, n1: int, k2: int, n2: int, interval: tuple[float, float] | None, verdict: str, summary: str
) -> dict[str, Any]:
    def group(k: int, n: int) -> dict[str, Any]:
        return {"n": n, "count": k, "rate": k / n if n else None, "interval": None}

    return {
        "outcome": outcome,
        "enrolled": group(k1, n1),
        "held_out": group(k2, n2),
        "difference": k1 / n1 - k2 / n2 if n1 and n2 else None,
        "interval": {"low": interval[0], "high": interval[1]} if interval else None,
        "verdict": verdict,
        "summary": summary,
    }


def sample_effectiveness(*, now: datetime, few: bool = False) -> dict[str, Any]:
    """A report shaped as touch's GET /v1/playbooks/{name}/effectiveness answers it (figures made up)."""
    too_few = "too few accounts to tell (8 enrolled, 1 held out; at least 20 in each group needed)"
    if few:
        rates = [
            _rate(o, 3, 8, 0, 1, None, "too_few", too_few)
            for o in ("renewed", "churned", "usage_recovered", "band_improved")
        ]
        enrolled, held = 8, 1
    else:
        rates = [
            _rate(
                "renewed",
                150,
                180,
                12,
                20,
                (0.02, 0.44),
                "better",
                "renewed: better with the playbook (95 % interval excludes zero)",
            ),
            _rate(
                "churned",
                18,
                180,
                6,
                20,
                (-0.41, -0.02),
                "better",
                "churned: better with the playbook (95 % interval excludes zero)",
            ),
            _rate(
                "usage_recovered",
                110,
                180,
                10,
                20,
                (-0.12, 0.33),
                "no_difference",
                "no clear difference in usage_recovered (the 95 % interval includes zero)",
            ),
            _rate(
                "band_improved",
                60,
                170,
                6,
                19,
                (-0.19, 0.25),
                "no_difference",
                "no clear difference in band_improved (the 95 % interval includes zero)",
            ),
        ]
        enrolled, held = 180, 20
    return {
        "playbook": "onboarding" if few else "risk",
        "days": 90,
        "min_accounts": 20,
        "not_compared": 4,
        "generated_at": now.isoformat(),
        "variants": [
            {
                "variant": "tech",
                "holdout": 0.1,
                "enrolled": enrolled,
                "held_out": held,
                "usage_per_day_enrolled": 3.2,
                "usage_per_day_held_out": 3.4,
                "rates": rates,
                "nps_change": {
                    "outcome": "nps_change",
                    "enrolled_n": 0,
                    "enrolled_mean": None,
                    "held_out_n": 0,
                    "held_out_mean": None,
                    "difference": None,
                    "interval": None,
                    "verdict": "too_few",
                    "summary": "too few accounts to tell (0 enrolled, 0 held out; at least 20 in each group needed)",
                },
                "funnel": [
                    {
                        "step": "notice",
                        "kind": "send",
                        "sent": enrolled,
                        "opened": enrolled // 2,
                        "clicked": enrolled // 5,
                        "answered": 0,
                        "completed": 0,
                    },
                    {
                        "step": "no_recovery",
                        "kind": "task",
                        "sent": enrolled // 6,
                        "opened": 0,
                        "clicked": 0,
                        "answered": 0,
                        "completed": enrolled // 9,
                    },
                ],
            }
        ],
    }


def _demo_weights(backend: InMemoryBackend) -> None:
    """A trust report and a weights comparison for the scores page: the default card with a
    proposal, the enterprise card with too few outcomes (as a young installation would have)."""
    backend.trust_report = TrustReport(
        outcomes=41,
        horizons=[
            TrustHorizon(30, 0.74, 12, 27, 2),
            TrustHorizon(60, 0.69, 11, 26, 4),
            TrustHorizon(90, 0.61, 9, 24, 8),
        ],
    )

    def side(auc: float, brier: float, observed: tuple[float, ...]) -> WeightSide:
        bins = [CalibrationBin(i / 5, (i + 1) / 5, 8, i / 5 + 0.1, observed[i]) for i in range(5)]
        return WeightSide(auc, brier, bins)

    hand = (15.0, 20.0, 10.0, 10.0, 15.0, 10.0, 5.0, 5.0, 5.0, 5.0)
    learned = (9.6, 27.4, 14.1, 6.2, 18.8, 12.5, 1.0, 4.3, 4.1, 2.0)
    names = ("active_users_ratio", "days_since_login", "login_days", "days_since_contact", "key_features_share",
             "usage_trend", "roi", "nps", "risk_flags", "support_tickets")  # fmt: skip
    backend.comparisons = {
        "default": WeightsComparison(
            scorecard="default",
            proposed=True,
            refused=None,
            churned_accounts=12,
            renewed_accounts=27,
            folds=5,
            measures=[MeasureWeight(n, h, lw, n == "roi") for n, h, lw in zip(names, hand, learned, strict=True)],
            horizons=[
                HorizonComparison(
                    d,
                    12,
                    27,
                    side(a, 0.19, (0.0, 0.2, 0.3, 0.6, 0.8)),
                    side(a + 0.06, 0.16, (0.05, 0.2, 0.5, 0.7, 0.9)),
                )
                for d, a in ((30, 0.74), (60, 0.69), (90, 0.61))
            ],
        ),
        "enterprise": WeightsComparison(
            scorecard="enterprise",
            proposed=False,
            refused="too few outcomes to fit: 3 churned and 6 renewed accounts have a score history before their "
            "outcome; at least 10 of each are needed",
            churned_accounts=3,
            renewed_accounts=6,
            folds=0,
            measures=[
                MeasureWeight(n, h, None, False) for n, h in zip(names[:4], (20.0, 10.0, 10.0, 20.0), strict=True)
            ],
            horizons=[],
        ),
    }
    backend.proposals = {"default": "# Proposed weights for scorecard 'default' (demo)\nscorecards: []\n"}


def _demo_feedback(backend: InMemoryBackend, *, now: datetime, accounts: int) -> None:
    """Exit and feature-usefulness answers (one detractor naming a feature useful) and two milestones."""
    if accounts < 4:
        return
    said = [
        ("acc-00001", "satisfaction", 2, "動作が遅いので解約します。", "churn.exit_survey", ()),
        ("acc-00003", "satisfaction", 4, "Support was great until the end.", "churn.exit_survey", ()),
        ("acc-00000", "feature_usefulness", None, "レポートは便利です。", "risk.feature_survey", ("reports",)),
        ("acc-00002", "feature_usefulness", None, "", "risk.feature_survey", ("alerts", "exports")),
    ]
    for account_id, survey, score, comment, template, features in said:
        backend.answers.append(
            SurveyAnswer(account_id=account_id, at=now - timedelta(days=12), score=score, comment=comment,
                         user_id="u-2", survey=survey, template=template, features=features)
        )  # fmt: skip
    backend.milestone_list += [
        Milestone("demo-release", "release", "v2.4: scheduled reports", now - timedelta(days=40), None, "event",
                  -10.0, 8.0, 9, 7),
        Milestone("demo-training", "training", "Admin training", now - timedelta(days=20), "acc-00000", "csm",
                  None, 100.0, 0, 1),
    ]  # fmt: skip


def _contributions(rng: random.Random, score: float, *, missing_roi: bool) -> list[Contribution]:
    present = [m for m in _MEASURES if not (missing_roi and m[1] == "roi")]
    weight = 1 / len(present)
    result = []
    for measure, group in _MEASURES:
        if missing_roi and group == "roi":
            result.append(Contribution(measure, group, None, None, 0.0, 0.0, missing=True))
            continue
        s = min(100.0, max(0.0, score + rng.uniform(-20, 20)))
        raw = rng.uniform(0, 30)
        # Values in each measure's own unit: a 1-5 rating, a share, a trend, a count of days.
        value = {
            "relationship": float(1 + int(raw) % 5),
            "active_users_ratio": round(raw / 30, 2),
            "key_features_share": round(raw / 30, 2),
            "usage_trend": round(raw / 30 - 0.5, 2),
        }.get(measure, round(raw, 1))
        result.append(Contribution(measure, group, value, round(s, 1), round(weight, 3), round(s * weight, 1)))
    return result


def _demo_activity(
    backend: InMemoryBackend,
    rng: random.Random,
    *,
    account_id: str,
    index: int,
    now: datetime,
    band: str,
    owner: str | None,
) -> None:
    playbook = {"action_required": "risk", "caution": "risk", "healthy": "advocacy", "good": "renewal"}[band]
    steps = [
        StepRecord(step="notice", status="sent", at=now - timedelta(days=9)),
        StepRecord(step="use_cases", status="sent", at=now - timedelta(days=6)),
        StepRecord(step="wait_recovery", status="waiting", at=now - timedelta(days=6)),
    ]
    backend.enrolment_list[account_id] = [
        Enrolment(f"enr-{index:05d}", playbook, "active", "wait_recovery", now - timedelta(days=9), steps)
    ]
    if band in ("action_required", "caution") or index % 6 == 0:
        priority = "urgent" if band == "action_required" else rng.choice(["high", "medium", "low"])
        backend.task_list[f"task-{index:05d}"] = Task(
            task_id=f"task-{index:05d}",
            account_id=account_id,
            subject=f"Call {backend.scores[account_id].name}: usage fell",
            type="risk_high_touch" if band == "action_required" else "risk_no_recovery",
            reason="usage_drop",
            priority=priority,
            status="open",
            owner=owner,
            due_at=now + timedelta(days=rng.randint(-5, 7)),
            created_at=now - timedelta(days=3),
            account_name=backend.scores[account_id].name,
        )
    backend.timelines[account_id] = [
        TimelineItem(now - timedelta(days=1), "event.login", "Signed In", "user u-1"),
        TimelineItem(now - timedelta(days=2), "event.feature_used", "Feature Used: reports"),
        TimelineItem(now - timedelta(days=6), "email.opened", "risk.use_cases"),
        TimelineItem(now - timedelta(days=5), "email.clicked", "risk.use_cases", "https://example.com/cases"),
        TimelineItem(now - timedelta(days=3), "task.opened", "risk_high_touch"),
    ]
    if index % 2 == 0:
        score, comment = _COMMENTS[(index // 2) % len(_COMMENTS)]
        at = now - timedelta(days=rng.randint(0, 170))
        backend.answers.append(SurveyAnswer(account_id=account_id, at=at, score=score, comment=comment, user_id="u-1"))
        backend.timelines[account_id].append(TimelineItem(at, "inapp.answered", f"NPS {score}", comment))


def sample_portfolio(*, now: datetime, by: str) -> dict[str, Any]:
    """A view shaped as touch's GET /v1/portfolio answers it (figures made up)."""

    def retention(scale: float) -> dict[str, Any]:
        start, expansion, contraction, churned = 1_200_000 * scale, 90_000 * scale, 40_000 * scale, 60_000 * scale
        accounts, churned_accounts = round(40 * scale), round(3 * scale)
        return {
            "starting_accounts": accounts,
            "churned_accounts": churned_accounts,
            "logo_churn": churned_accounts / accounts,
            "starting_arr": start,
            "expansion": expansion,
            "contraction": contraction,
            "churned_arr": churned,
            "grr": (start - contraction - churned) / start,
            "nrr": (start + expansion - contraction - churned) / start,
            "new_accounts": round(5 * scale),
            "new_arr": 150_000 * scale,
        }

    def months(scale: float) -> list[dict[str, Any]]:
        out = []
        for back in range(11, -1, -1):
            year, month = now.year, now.month - back
            while month < 1:
                year, month = year - 1, month + 12
            shift = (11 - back) / 11
            counts = {"good": 12 + 8 * shift, "healthy": 14, "caution": 9 - 3 * shift, "action_required": 5 - shift}
            bands = [
                {"band": b, "accounts": round(n * scale), "arr": round(n * 30_000 * scale)} for b, n in counts.items()
            ]
            bands.append({"band": "unscored", "accounts": round(2 * scale), "arr": round(40_000 * scale)})
            out.append({"month": f"{year:04d}-{month:02d}", "as_of": now.isoformat(), "bands": bands})
        return out

    keys: dict[str, list[str | None]] = {
        "none": [],
        "csm": ["aiko@example.com", "ben@example.com", None],
        "tier": ["high", "low", "tech"],
    }
    shares = (0.5, 0.3, 0.2)  # the groups add up to the whole book
    groups = [
        {"key": k, "retention": retention(share), "months": months(share)}
        for k, share in zip(keys[by], shares[: len(keys[by])], strict=True)
    ]
    return {
        "period": "ttm",
        "start": now.replace(year=now.year - 1).isoformat(),
        "end": now.isoformat(),
        "by": by,
        "total": {"key": None, "retention": retention(1.0), "months": months(1.0)},
        "groups": groups,
        "generated_at": now.isoformat(),
    }
