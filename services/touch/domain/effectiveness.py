"""Does a playbook work? Its enrolled runs against its held-out accounts, per variant. Pure.

Compared are the runs the holdout could have drawn: started by a trigger (not by hand), not
high touch. Each run is followed for ``days`` after its start (up to ``now`` for a recent one:
assignment is random, so both groups are cut alike). Per run:

- renewed / churned: a ``renewed`` / ``cancelled`` fact in the window;
- usage recovered: for runs that started while the account's use was in decline (the risk
  playbook's runs, and any other that began during one), the end of that decline in the window
  (touch's own recovery rule or health's trend; see docs/touch.md); other runs are left out;
- band improved: a band in the window better than the last band before the start (runs
  without a band before are left out of this rate);
- NPS change: the first NPS score in the window minus the last one before (runs without both
  are left out).

The funnel follows the enrolled runs' commands per step: sent (or task opened) → opened by a
person (machine opens never reach touch) → clicked → answered → task completed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .playbook import Playbook
from .stats import Interval, mean, mean_difference, rate_difference, wilson

Verdict = Literal["too_few", "better", "worse", "no_difference"]
# Outcome -> whether a higher value means the customer is better off.
RATE_OUTCOMES: dict[str, tuple[str, bool]] = {
    "renewed": ("renewed", True),
    "churned": ("cancelled", False),
    "usage_recovered": ("usage_improved", True),
    "band_improved": ("band_improved", True),
}
OPENED = frozenset({"email.opened", "inapp.seen", "email.clicked", "inapp.clicked", "email.answered", "inapp.answered"})
CLICKED = frozenset({"email.clicked", "inapp.clicked"})
ANSWERED = frozenset({"email.answered", "inapp.answered"})


@dataclass(frozen=True)
class RunRecord:
    id: str
    account_id: str
    variant: str
    tier: str
    held_out: bool
    manual: bool
    enrolled_at: datetime
    baseline: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountFact:
    account_id: str
    kind: str
    at: datetime
    value: float | None = None


@dataclass(frozen=True)
class CommandRecord:
    """A command a run's step issued (history ``sent`` or ``task``) and the reactions it got."""

    enrolment_id: str
    step: str
    event: str  # sent | task
    command_id: str
    reactions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Inputs:
    runs: Sequence[RunRecord]
    facts: Sequence[AccountFact]  # the outcome facts (no command) of the runs' accounts
    commands: Sequence[CommandRecord]


@dataclass(frozen=True)
class GroupRate:
    n: int
    count: int
    rate: float | None
    interval: Interval | None


@dataclass(frozen=True)
class RateComparison:
    outcome: str
    enrolled: GroupRate
    held_out: GroupRate
    difference: float | None
    interval: Interval | None
    verdict: Verdict
    summary: str


@dataclass(frozen=True)
class MeanComparison:
    outcome: str
    enrolled_n: int
    enrolled_mean: float | None
    held_out_n: int
    held_out_mean: float | None
    difference: float | None
    interval: Interval | None
    verdict: Verdict
    summary: str


@dataclass(frozen=True)
class FunnelStep:
    step: str
    kind: str  # send | task
    sent: int
    opened: int
    clicked: int
    answered: int
    completed: int


@dataclass(frozen=True)
class VariantReport:
    variant: str
    enrolled: int
    held_out: int
    usage_per_day_enrolled: float | None
    usage_per_day_held_out: float | None
    rates: tuple[RateComparison, ...]
    nps_change: MeanComparison
    funnel: tuple[FunnelStep, ...]


@dataclass(frozen=True)
class Report:
    playbook: str
    days: int
    min_accounts: int
    not_compared: int  # runs outside the comparison: by hand, or high touch
    variants: tuple[VariantReport, ...]


def _verdict(interval: Interval | None, *, enough: bool, higher_is_better: bool) -> Verdict:
    if not enough or interval is None:
        return "too_few"
    if not interval.excludes_zero():
        return "no_difference"
    return "better" if (interval.low > 0) == higher_is_better else "worse"


def _summary(verdict: Verdict, outcome: str, *, n_enrolled: int, n_held: int, min_accounts: int) -> str:
    if verdict == "too_few":
        return (
            f"too few accounts to tell ({n_enrolled} enrolled, {n_held} held out; "
            f"at least {min_accounts} in each group needed)"
        )
    if verdict == "no_difference":
        return f"no clear difference in {outcome} (the 95 % interval includes zero)"
    return f"{outcome}: {'better' if verdict == 'better' else 'worse'} with the playbook (95 % interval excludes zero)"


def compare_rates(
    outcome: str, k1: int, n1: int, k2: int, n2: int, *, min_accounts: int, higher_is_better: bool
) -> RateComparison:
    """Enrolled (k1 of n1) against held out (k2 of n2)."""
    enough = n1 >= min_accounts and n2 >= min_accounts
    interval = rate_difference(k1, n1, k2, n2)
    verdict = _verdict(interval, enough=enough, higher_is_better=higher_is_better)
    return RateComparison(
        outcome=outcome,
        enrolled=GroupRate(n1, k1, k1 / n1 if n1 else None, wilson(k1, n1)),
        held_out=GroupRate(n2, k2, k2 / n2 if n2 else None, wilson(k2, n2)),
        difference=k1 / n1 - k2 / n2 if n1 and n2 else None,
        interval=interval,
        verdict=verdict,
        summary=_summary(verdict, outcome, n_enrolled=n1, n_held=n2, min_accounts=min_accounts),
    )


def compare_means(
    outcome: str, a: Sequence[float], b: Sequence[float], *, min_accounts: int, higher_is_better: bool
) -> MeanComparison:
    enough = len(a) >= min_accounts and len(b) >= min_accounts
    ma, mb = mean(a), mean(b)
    interval = mean_difference(a, b)
    verdict = _verdict(interval, enough=enough, higher_is_better=higher_is_better)
    return MeanComparison(
        outcome=outcome,
        enrolled_n=len(a),
        enrolled_mean=ma,
        held_out_n=len(b),
        held_out_mean=mb,
        difference=ma - mb if ma is not None and mb is not None else None,
        interval=interval,
        verdict=verdict,
        summary=_summary(verdict, outcome, n_enrolled=len(a), n_held=len(b), min_accounts=min_accounts),
    )


@dataclass(frozen=True)
class RunOutcome:
    renewed: bool
    cancelled: bool
    usage_improved: bool | None  # None: not in decline at the start
    band_improved: bool | None  # None: no band before the start
    nps_change: float | None


def run_outcome(run: RunRecord, facts: Sequence[AccountFact], *, days: int, now: datetime) -> RunOutcome:
    """What happened to the run's account in its window (``facts``: that account's, time-ordered)."""
    end = min(run.enrolled_at + timedelta(days=days), now)
    before = [f for f in facts if f.at <= run.enrolled_at]
    within = [f for f in facts if run.enrolled_at < f.at <= end]
    kinds = {f.kind for f in within}
    bands_before = [f.value for f in before if f.kind == "band" and f.value is not None]
    band_improved = None
    if bands_before:
        start_rank = bands_before[-1]
        band_improved = any(f.kind == "band" and f.value is not None and f.value > start_rank for f in within)
    nps_before = [f.value for f in before if f.kind == "nps" and f.value is not None]
    nps_after = [f.value for f in within if f.kind == "nps" and f.value is not None]
    change = nps_after[0] - nps_before[-1] if nps_before and nps_after else None
    return RunOutcome(
        renewed="renewed" in kinds,
        cancelled="cancelled" in kinds,
        usage_improved="usage_improved" in kinds if run.baseline.get("in_decline") else None,
        band_improved=band_improved,
        nps_change=change,
    )


def compared(run: RunRecord) -> bool:
    """Could the holdout have drawn this run? (by hand and high touch never are)"""
    return not run.manual and run.tier != "high"


def _funnel(
    steps: Sequence[str], kinds: Mapping[str, str], commands: Sequence[CommandRecord]
) -> tuple[FunnelStep, ...]:
    out = []
    unique = {c.command_id: c for c in commands}.values()  # a command counts once
    for step in steps:
        if kinds.get(step) not in ("send", "task"):
            continue
        mine = [c for c in unique if c.step == step]
        out.append(
            FunnelStep(
                step=step,
                kind=kinds.get(step, "send"),
                sent=len(mine),
                opened=sum(1 for c in mine if c.reactions & OPENED),
                clicked=sum(1 for c in mine if c.reactions & CLICKED),
                answered=sum(1 for c in mine if c.reactions & ANSWERED),
                completed=sum(1 for c in mine if "task.completed" in c.reactions),
            )
        )
    return tuple(out)


def _variant(
    name: str,
    runs: Sequence[RunRecord],
    outcomes: Mapping[str, RunOutcome],
    commands: Sequence[CommandRecord],
    *,
    steps: Sequence[str],
    kinds: Mapping[str, str],
    min_accounts: int,
) -> VariantReport:
    enrolled = [r for r in runs if not r.held_out]
    held = [r for r in runs if r.held_out]
    rates = []
    for outcome, (attr, higher) in RATE_OUTCOMES.items():
        # None: the outcome does not apply to that run (no decline to recover from, no band before)
        a: list[bool] = [v for r in enrolled if (v := getattr(outcomes[r.id], attr)) is not None]
        b: list[bool] = [v for r in held if (v := getattr(outcomes[r.id], attr)) is not None]
        rates.append(
            compare_rates(outcome, sum(a), len(a), sum(b), len(b), min_accounts=min_accounts, higher_is_better=higher)
        )
    nps1 = [c for r in enrolled if (c := outcomes[r.id].nps_change) is not None]
    nps2 = [c for r in held if (c := outcomes[r.id].nps_change) is not None]
    ids = {r.id for r in enrolled}
    usage1 = [float(r.baseline["usage_per_day"]) for r in enrolled if "usage_per_day" in r.baseline]
    usage2 = [float(r.baseline["usage_per_day"]) for r in held if "usage_per_day" in r.baseline]
    return VariantReport(
        variant=name,
        enrolled=len(enrolled),
        held_out=len(held),
        usage_per_day_enrolled=mean(usage1),
        usage_per_day_held_out=mean(usage2),
        rates=tuple(rates),
        nps_change=compare_means("nps_change", nps1, nps2, min_accounts=min_accounts, higher_is_better=True),
        funnel=_funnel(steps, kinds, [c for c in commands if c.enrolment_id in ids]),
    )


def effectiveness(playbook: Playbook, inputs: Inputs, *, days: int, now: datetime, min_accounts: int) -> Report:
    """The report for one playbook: per variant (and all variants together when it has several)."""
    facts: dict[str, list[AccountFact]] = {}
    for f in sorted(inputs.facts, key=lambda f: f.at):
        facts.setdefault(f.account_id, []).append(f)
    runs = [r for r in inputs.runs if compared(r)]
    outcomes = {r.id: run_outcome(r, facts.get(r.account_id, []), days=days, now=now) for r in runs}
    variants = [v for v in playbook.variants if any(r.variant == v for r in runs)] or list(playbook.variants)
    sections = []
    for name in variants:
        steps = playbook.variants.get(name, ())  # type: ignore[call-overload]
        sections.append(
            _variant(
                name,
                [r for r in runs if r.variant == name],
                outcomes,
                inputs.commands,
                steps=[s.id for s in steps],
                kinds={s.id: s.kind for s in steps},
                min_accounts=min_accounts,
            )
        )
    if len(sections) > 1:
        every: list[str] = []
        kinds: dict[str, str] = {}
        for name in variants:
            for s in playbook.variants[name]:  # type: ignore[index]
                if s.id not in kinds:
                    every.append(s.id)
                    kinds[s.id] = s.kind
        sections.append(
            _variant("all", runs, outcomes, inputs.commands, steps=every, kinds=kinds, min_accounts=min_accounts)
        )
    return Report(
        playbook=playbook.name,
        days=days,
        min_accounts=min_accounts,
        not_compared=len(inputs.runs) - len(runs),
        variants=tuple(sections),
    )
