"""The portfolio view: revenue retention, logo churn, and accounts and ARR per health band over
time, for the whole book or per CSM or tier. Pure: the stored history comes in as values.

Every measure reads an account's state *before* an instant: its facts with ``at < t`` (so a
period [start, end) sees what happened in it exactly once). Definitions (docs/touch.md, Portfolio):

- cohort: accounts first seen before the start and not churned then;
- churned: a cohort account churned at the end (it churned within the period and was not won back);
- per cohort account, over the period: churned -> its starting ARR is churned ARR; else an ARR
  above the start is expansion, below it contraction; accounts with no ARR at the start are
  counted as logos but left out of the ARR measures (their later ARR is new business);
- new accounts (first seen within the period) and accounts won back after churning before the
  start are not in the cohort: reported beside it, never in retention.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from touchline.shared.messages import BANDS_WORST_FIRST

from .book import ARR, CHURNED, OWNER

By = Literal["none", "csm", "tier"]
T = TypeVar("T")
BAND, TIER = "band", "tier"
UNSCORED = "unscored"
BAND_ORDER = (*reversed(BANDS_WORST_FIRST), UNSCORED)  # best first, then accounts with no score yet


@dataclass(frozen=True)
class Change:
    """An attribute of an account from ``at`` on: arr, churned, band (value), owner, tier (label)."""

    account_id: str
    kind: str
    at: datetime
    value: float | None = None
    label: str | None = None


@dataclass(frozen=True)
class Book:
    first_seen: dict[str, datetime]  # account -> when touch first saw it
    changes: Sequence[Change]  # any order; a tie at one instant keeps the later one in the sequence


@dataclass(frozen=True)
class State:
    arr: float | None = None
    owner: str | None = None
    tier: str | None = None
    band: str | None = None
    churned: bool = False


@dataclass(frozen=True)
class Retention:
    starting_accounts: int
    churned_accounts: int
    logo_churn: float | None  # churned / starting accounts; None with no cohort
    starting_arr: float
    expansion: float
    contraction: float
    churned_arr: float
    grr: float | None  # (start - contraction - churned) / start, at most 1; None without starting ARR
    nrr: float | None  # (start + expansion - contraction - churned) / start
    new_accounts: int
    new_arr: float  # their ARR at the end


@dataclass(frozen=True)
class BandCount:
    band: str
    accounts: int
    arr: float


@dataclass(frozen=True)
class MonthBands:
    month: str  # YYYY-MM
    as_of: datetime  # the state before this instant: the month's end (or now in the current month)
    bands: tuple[BandCount, ...]


@dataclass(frozen=True)
class Section:
    key: str | None  # the CSM or tier; None: the whole book, or the accounts with no owner/tier
    retention: Retention
    months: tuple[MonthBands, ...]


@dataclass(frozen=True)
class Portfolio:
    start: datetime
    end: datetime
    by: By
    total: Section
    groups: tuple[Section, ...]  # empty when by is "none"


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime  # exclusive; never after now


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def parse_period(raw: str | None, *, now: datetime) -> Period:
    """``ttm`` (the trailing twelve months, the default), ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``;
    a period not over yet ends now. ValueError says what is wrong."""
    text = (raw or "ttm").strip()
    if text == "ttm":
        start = now.replace(year=now.year - 1) if not (now.month == 2 and now.day == 29) else now - timedelta(days=365)
        return Period("ttm", start, now)
    year_text = re.match(r"\d{4}", text)
    if year_text is not None and not 1970 <= int(year_text[0]) <= 9998:
        raise ValueError(f"{text!r}: the year must be 1970 to 9998")
    if m := re.fullmatch(r"(\d{4})", text):
        year = int(m[1])
        start, end = _month_start(year, 1), _month_start(year + 1, 1)
    elif m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        start, end = _month_start(year, 3 * quarter - 2), _month_start(year, 3 * quarter + 1)
    elif m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: month {month} is not 01-12")
        start, end = _month_start(year, month), _month_start(year, month + 1)
    else:
        raise ValueError(f"{text!r}: use ttm, a year (2026), a quarter (2026-Q3) or a month (2026-07)")
    if start >= now:
        raise ValueError(f"{text!r} has not started yet")
    return Period(text.upper() if "q" in text.lower() else text, start, min(end, now))


def month_ends(end: datetime, months: int) -> list[tuple[str, datetime]]:
    """The ``months`` calendar months up to the one holding the instant before ``end``, oldest
    first, each with the instant its state is read before (its end, or ``end`` in the last)."""
    last = end - timedelta(microseconds=1)
    out = []
    for back in range(months - 1, -1, -1):
        first = _month_start(last.year, last.month - back)
        nxt = _month_start(first.year, first.month + 1)
        out.append((f"{first.year:04d}-{first.month:02d}", min(nxt, end)))
    return out


# --- states -----------------------------------------------------------------------------------


class History:
    """Each account's changes in time order, to read every account's state before given instants."""

    def __init__(self, book: Book) -> None:
        self.first_seen = book.first_seen
        self._by_account: dict[str, list[tuple[float, Change]]] = {}
        # Compared as POSIX seconds: one pass over many accounts compares a lot, and aware
        # datetimes compare several times slower than floats.
        for c in book.changes:
            self._by_account.setdefault(c.account_id, []).append((c.at.timestamp(), c))
        for changes in self._by_account.values():
            changes.sort(key=lambda tc: tc[0])  # stable: a tie keeps the later one in the sequence last

    def states(self, instants: Sequence[datetime]) -> list[dict[str, State]]:
        """For each instant, the state before it of every account first seen before it: one
        sweep per account over its changes (an account's state is built only when it changed)."""
        order = sorted(range(len(instants)), key=lambda i: instants[i])
        times = [instants[i].timestamp() for i in order]
        out: list[dict[str, State]] = [{} for _ in instants]
        for account, seen in self.first_seen.items():
            seen_at = seen.timestamp()
            changes = self._by_account.get(account, [])
            values: dict[str, Change] = {}
            done, state = 0, None
            for i, t in zip(order, times, strict=True):
                if seen_at >= t:
                    continue
                moved = done
                while moved < len(changes) and changes[moved][0] < t:
                    values[changes[moved][1].kind] = changes[moved][1]
                    moved += 1
                if state is None or moved != done:
                    state, done = _state(values), moved
                out[i][account] = state
        return out


def _state(values: dict[str, Change]) -> State:
    band = values.get(BAND)
    rank = int(band.value) if band is not None and band.value is not None else None
    churned = values.get(CHURNED)
    return State(
        arr=values[ARR].value if ARR in values else None,
        owner=values[OWNER].label if OWNER in values else None,
        tier=values[TIER].label if TIER in values else None,
        band=BANDS_WORST_FIRST[rank] if rank is not None and 0 <= rank < len(BANDS_WORST_FIRST) else None,
        churned=bool(churned is not None and churned.value),
    )


def key_of(by: By) -> Callable[[State], str | None]:
    return {"none": lambda s: None, "csm": lambda s: s.owner, "tier": lambda s: s.tier}[by]


# --- the measures -----------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def retention(cohort: Iterable[tuple[State, State]], new: Iterable[State]) -> Retention:
    """``cohort``: (state at the start, at the end) of each account active at the start;
    ``new``: the end state of each account first seen within the period."""
    accounts = churned = 0
    start_arr = expansion = contraction = churned_arr = 0.0
    for first, last in cohort:
        accounts += 1
        churned += last.churned
        arr = first.arr or 0.0
        if arr <= 0:
            continue
        start_arr += arr
        if last.churned:
            churned_arr += arr
        else:
            delta = (last.arr or 0.0) - arr
            expansion += max(delta, 0.0)
            contraction += max(-delta, 0.0)
    grr = _ratio(start_arr - contraction - churned_arr, start_arr)
    nrr = _ratio(start_arr + expansion - contraction - churned_arr, start_arr)
    fresh = [s for s in new if not s.churned]
    return Retention(
        starting_accounts=accounts,
        churned_accounts=churned,
        logo_churn=_ratio(churned, accounts),
        starting_arr=start_arr,
        expansion=expansion,
        contraction=contraction,
        churned_arr=churned_arr,
        grr=min(grr, 1.0) if grr is not None else None,
        nrr=nrr,
        new_accounts=len(fresh),
        new_arr=sum(s.arr or 0.0 for s in fresh),
    )


def bands(states: Iterable[State]) -> tuple[BandCount, ...]:
    """Active accounts and their ARR per band (every band listed, best first)."""
    counts = {b: 0 for b in BAND_ORDER}
    arr = {b: 0.0 for b in BAND_ORDER}
    for s in states:
        if s.churned:
            continue
        band = s.band or UNSCORED
        counts[band] += 1
        arr[band] += s.arr or 0.0
    return tuple(BandCount(b, counts[b], arr[b]) for b in BAND_ORDER)


def _split(items: Iterable[T], key: Callable[[T], str | None]) -> dict[str | None, list[T]]:
    groups: dict[str | None, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def portfolio(book: Book, *, start: datetime, end: datetime, months: int, by: By) -> Portfolio:
    ends = month_ends(end, months)
    at_start, at_end, *at_months = History(book).states([start, end, *(as_of for _, as_of in ends)])
    key = key_of(by)
    # (account's group at the start, state at the start, at the end); a cohort account is known at the end too
    cohort = [(key(first), first, at_end[a]) for a, first in at_start.items() if not first.churned]
    new = [last for a, last in at_end.items() if book.first_seen[a] >= start and not last.churned]
    active = [[s for s in states.values() if not s.churned] for states in at_months]

    def section(
        k: str | None, cohort: list[tuple[str | None, State, State]], new: list[State], active: list[list[State]]
    ) -> Section:
        return Section(
            key=k,
            retention=retention(((first, last) for _, first, last in cohort), new),
            months=tuple(
                MonthBands(label, as_of, bands(states)) for (label, as_of), states in zip(ends, active, strict=True)
            ),
        )

    total = section(None, cohort, new, active)
    if by == "none":
        return Portfolio(start, end, by, total, ())
    cohort_by = _split(cohort, lambda c: c[0])
    new_by = _split(new, key)
    active_by = [_split(states, key) for states in active]
    keys = set(cohort_by) | set(new_by) | {k for groups in active_by for k in groups}
    ordered = sorted(keys, key=lambda k: (k is None, k or ""))
    groups = tuple(
        section(k, cohort_by.get(k, []), new_by.get(k, []), [g.get(k, []) for g in active_by]) for k in ordered
    )
    return Portfolio(start, end, by, total, groups)
