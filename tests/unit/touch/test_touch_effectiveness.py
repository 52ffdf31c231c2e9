"""The effectiveness report's statistics against hand-computed cases, and the report on plain records."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from touchline.touch.domain.effectiveness import (
    AccountFact,
    CommandRecord,
    Inputs,
    RunRecord,
    compare_rates,
    effectiveness,
    run_outcome,
)
from touchline.touch.domain.playbook import parse_playbook
from touchline.touch.domain.stats import mean_difference, rate_difference, variance, wilson

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_wilson_interval_matches_hand_computation() -> None:
    # 8 of 10, z = 1.96: centre (0.8 + 3.8415/20) / (1 + 3.8415/10) = 0.7167,
    # half-width 1.96 / 1.38415 * sqrt(0.8*0.2/10 + 3.8415/400) = 0.2266
    w = wilson(8, 10)
    assert w is not None and w.low == pytest.approx(0.4902, abs=1e-4) and w.high == pytest.approx(0.9433, abs=1e-4)
    zero = wilson(0, 10)  # no success: the interval starts at 0, not below (the Wald one would be [0, 0])
    assert zero is not None and zero.low == 0 and zero.high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0) is None
    with pytest.raises(ValueError, match=r"within 0\.\.3"):
        wilson(4, 3)


def test_newcombe_difference_matches_the_published_example() -> None:
    # Newcombe (1998) example: 56/70 vs 48/80, difference 0.2, method 10 interval 0.0524 to 0.3339
    d = rate_difference(56, 70, 48, 80)
    assert d is not None and d.low == pytest.approx(0.0524, abs=1e-4) and d.high == pytest.approx(0.3339, abs=1e-4)
    assert rate_difference(1, 0, 1, 2) is None


def test_mean_difference_uses_each_groups_own_variance() -> None:
    # a = 1, 2, 3 (mean 2, variance 1); b = 0, 2 (mean 1, variance 2):
    # 1 ± 1.96 * sqrt(1/3 + 2/2) = 1 ± 2.2632
    d = mean_difference([1, 2, 3], [0, 2])
    assert d is not None and d.low == pytest.approx(-1.2632, abs=1e-4) and d.high == pytest.approx(3.2632, abs=1e-4)
    assert variance([5]) is None and mean_difference([1], [1, 2]) is None
    assert math.isclose(variance([1, 2, 3]) or 0, 1.0)


def test_a_comparison_says_too_few_below_the_threshold_and_names_the_direction_above() -> None:
    small = compare_rates("churned", 1, 9, 5, 10, min_accounts=10, higher_is_better=False)
    assert small.verdict == "too_few"
    assert small.summary == "too few accounts to tell (9 enrolled, 10 held out; at least 10 in each group needed)"
    assert small.enrolled.rate == pytest.approx(1 / 9) and small.held_out.count == 5  # the counts are still shown
    fewer_churn = compare_rates("churned", 10, 100, 40, 100, min_accounts=10, higher_is_better=False)
    assert fewer_churn.verdict == "better" and fewer_churn.difference == pytest.approx(-0.3)
    more_churn = compare_rates("churned", 40, 100, 10, 100, min_accounts=10, higher_is_better=False)
    assert more_churn.verdict == "worse"
    same = compare_rates("renewed", 50, 100, 48, 100, min_accounts=10, higher_is_better=True)
    assert same.verdict == "no_difference" and "interval includes zero" in same.summary


def run(i: int, *, held_out: bool, tier: str = "tech", manual: bool = False, at: datetime = T0) -> RunRecord:
    return RunRecord(f"r{i}", f"a{i}", "default", tier, held_out, manual, at, {"usage_per_day": 2.0})


def test_a_runs_outcomes_are_those_within_its_window_against_what_came_before() -> None:
    r = run(1, held_out=False, at=T0 + 10 * DAY)
    facts = [
        AccountFact("a1", "band", T0, 1.0),  # caution before the start
        AccountFact("a1", "nps", T0 + DAY, 4.0),
        AccountFact("a1", "band", T0 + 20 * DAY, 2.0),  # healthy within the window
        AccountFact("a1", "nps", T0 + 30 * DAY, 8.0),
        AccountFact("a1", "nps", T0 + 40 * DAY, 10.0),  # later answers do not replace the first after
        AccountFact("a1", "renewed", T0 + 50 * DAY),
        AccountFact("a1", "cancelled", T0 + 200 * DAY),  # after the window
    ]
    o = run_outcome(r, facts, days=90, now=T0 + 365 * DAY)
    assert (o.renewed, o.cancelled, o.usage_improved, o.band_improved, o.nps_change) == (True, False, None, True, 4.0)
    cut = run_outcome(r, facts, days=90, now=T0 + 30 * DAY)  # a recent run: what happened so far
    assert (cut.renewed, cut.band_improved, cut.nps_change) == (False, True, 4.0)
    assert o.usage_improved is None  # not in decline at the start: nothing to recover from
    declining = RunRecord("r2", "a1", "default", "tech", False, False, T0 + 10 * DAY, {"in_decline": True})
    back = [AccountFact("a1", "usage_improved", T0 + 12 * DAY)]
    assert run_outcome(declining, back, days=90, now=T0 + 365 * DAY).usage_improved is True
    assert run_outcome(declining, [], days=90, now=T0 + 365 * DAY).usage_improved is False
    no_band = run_outcome(
        r, [f for f in facts if f.kind != "band" or f.at > r.enrolled_at], days=90, now=T0 + 365 * DAY
    )
    assert no_band.band_improved is None  # no band before the start: left out of that rate


PLAYBOOK = parse_playbook(
    {
        "name": "hello",
        "holdout": 0.5,
        "trigger": {"signal": "signed"},
        "variants": {
            "default": [
                {"id": "hi", "send": {"channel": "email", "template": "onboarding.welcome"}},
                {"id": "pause", "wait": "2d"},
                {"id": "call", "task": {"type": "t", "reason": "r", "subject": "s"}},
            ]
        },
    }
)


def test_the_report_compares_enrolled_with_held_out_and_counts_the_funnel() -> None:
    runs = [run(i, held_out=i % 2 == 1) for i in range(40)]
    runs += [run(100, held_out=False, tier="high"), run(101, held_out=False, manual=True)]  # never compared
    # enrolled: 4 of 20 cancel; held out: 12 of 20 cancel
    facts = [AccountFact(f"a{i}", "cancelled", T0 + 5 * DAY) for i in range(0, 40, 2)[:4]]
    facts += [AccountFact(f"a{i}", "cancelled", T0 + 5 * DAY) for i in range(1, 40, 2)[:12]]
    commands = [
        CommandRecord("r0", "hi", "sent", "c0", frozenset({"email.opened", "email.clicked"})),
        CommandRecord("r0", "hi", "sent", "c0", frozenset({"email.opened", "email.clicked"})),  # counted once
        CommandRecord("r2", "hi", "sent", "c2", frozenset({"email.opened"})),
        CommandRecord("r4", "hi", "sent", "c4", frozenset()),
        CommandRecord("r0", "call", "task", "t0", frozenset({"task.completed"})),
        CommandRecord("r2", "call", "task", "t2", frozenset()),
    ]
    report = effectiveness(PLAYBOOK, Inputs(runs, facts, commands), days=90, now=T0 + 100 * DAY, min_accounts=10)
    assert report.not_compared == 2
    [section] = report.variants
    assert (section.enrolled, section.held_out, section.usage_per_day_enrolled) == (20, 20, 2.0)
    churned = next(r for r in section.rates if r.outcome == "churned")
    assert (churned.enrolled.count, churned.enrolled.n, churned.held_out.count, churned.held_out.n) == (4, 20, 12, 20)
    assert churned.difference == pytest.approx(-0.4) and churned.verdict == "better"
    expected = rate_difference(4, 20, 12, 20)
    assert churned.interval == expected
    renewed = next(r for r in section.rates if r.outcome == "renewed")
    assert renewed.verdict == "no_difference"  # nobody renewed in either group
    band = next(r for r in section.rates if r.outcome == "band_improved")
    assert band.verdict == "too_few" and band.enrolled.n == 0  # no band known before any start
    assert section.nps_change.verdict == "too_few"
    assert [(f.step, f.kind, f.sent, f.opened, f.clicked, f.answered, f.completed) for f in section.funnel] == [
        ("hi", "send", 3, 2, 1, 0, 0),
        ("call", "task", 2, 0, 0, 0, 1),
    ]
