"""Progress lines and the end-of-run summary: pure formatting of what was counted and observed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from touchline.shared.messages import BANDS
from touchline.sim.runner import Tally

TIERS = ("high", "low", "tech")


@dataclass
class Observed:
    """What the services say about the simulated accounts (None = that API did not answer)."""

    bands: Counter[str] | None = None
    band_by_tier: dict[str, Counter[str]] | None = None
    tasks_by_reason: Counter[str] | None = None
    open_tasks: int | None = None
    tasks: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


def _bands(bands: Mapping[str, int] | None) -> str:
    if bands is None:
        return "bands n/a"
    return " ".join(f"{b.replace('action_required', 'action')} {bands.get(b, 0)}" for b in BANDS)


def week_line(*, week: int, day: int, date: str, tally: Tally, observed: Observed) -> str:
    tasks = "tasks n/a" if observed.open_tasks is None else f"open tasks {observed.open_tasks}"
    answers = sum(tally.answers.values())
    unanswerable = sum(tally.unanswerable.values())
    return (
        f"week {week:>2} (day {day:>3}, {date}): events {tally.events:>7,}  {_bands(observed.bands)}  "
        f"mails {tally.mails:>4}  opens {tally.opens:>3}  answers {answers:>3}  unanswerable {unanswerable:>2}  {tasks}"
    )


def _table(title: str, counts: Mapping[str, int] | None, *, empty: str = "none") -> list[str]:
    if counts is None:
        return [f"{title}: not available (the service API did not answer)"]
    if not counts:
        return [f"{title}: {empty}"]
    width = max(len(k) for k in counts)
    return [f"{title}:"] + [
        f"  {k:<{width}}  {v:>6,}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def summary(
    *,
    accounts: int,
    days: int,
    wall_s: float,
    total: Tally,
    observed: Observed,
    where: Mapping[str, str],
    timings: Mapping[str, float] | None = None,
) -> str:
    lines = [
        "",
        f"simulated {accounts} accounts for {days} days in {wall_s:.0f}s: "
        f"{total.events:,} events sent, {total.mails:,} mails to customers, {total.opens:,} opened, "
        f"{total.clicks:,} clicked, {total.inapp_seen:,} in-app messages seen",
    ]
    if observed.band_by_tier is None:
        lines += _table("accounts per band", observed.bands)
    else:
        lines.append("accounts per band and tier:")
        lines.append("  " + f"{'tier':<6}" + "".join(f"{b:>17}" for b in BANDS))
        for tier in TIERS:
            row = observed.band_by_tier.get(tier, Counter())
            lines.append("  " + f"{tier:<6}" + "".join(f"{row.get(b, 0):>17}" for b in BANDS))
    lines += _table("mails per template", total.mails_by_template)
    lines += _table("CSM tasks per reason", observed.tasks_by_reason)
    lines += _table("surveys answered", total.answers)
    # A question the customers could not answer (no choice offered) is a gap, not a quiet zero.
    lines += _table("unanswerable surveys received", total.unanswerable)
    lines += [f"note: {n}" for n in observed.notes]
    if timings:
        lines.append("wall time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    lines.append("where to look:")
    lines += [f"  {k:<10} {v}" for k, v in where.items()]
    return "\n".join(lines)
