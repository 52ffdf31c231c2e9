"""The portfolio view's measures against hand-computed cases, and the facts it is built from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchline.shared.messages import BANDS_WORST_FIRST, ProductEvent
from touchline.touch.decisions import Decisions
from touchline.touch.domain.book import book_facts
from touchline.touch.domain.changes import Account, Fact, Snapshot
from touchline.touch.domain.portfolio import Book, Change, History, month_ends, parse_period, portfolio
from touchline.touch.domain.signals import from_event
from touchline.touch.domain.tiers import Profile
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings

Q3_START, Q3_END = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)


def d(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def rank(band: str) -> float:
    return float(BANDS_WORST_FIRST.index(band))


def hand_book() -> Book:
    """Q3 2026: A expands 100k -> 150k, B contracts 200k -> 120k, C (50k) churns, D is new (30k),
    E churned before the quarter and is won back within it."""
    c = Change
    changes = [
        c("A", "arr", d(1), 100_000), c("A", "owner", d(1), label="ann"), c("A", "tier", d(1), label="high"),
        c("A", "band", d(6), rank("healthy")), c("A", "arr", d(8, 10), 150_000), c("A", "band", d(9, 5), rank("good")),
        c("B", "arr", d(2), 200_000), c("B", "owner", d(2), label="bob"), c("B", "tier", d(2), label="high"),
        c("B", "arr", d(9, 2), 120_000),
        c("C", "arr", d(3), 50_000), c("C", "owner", d(3), label="ann"), c("C", "tier", d(3), label="low"),
        c("C", "band", d(7, 15), rank("caution")), c("C", "churned", d(8, 20), 1.0),
        c("D", "arr", d(8, 5), 30_000), c("D", "owner", d(8, 5), label="bob"), c("D", "tier", d(8, 5), label="low"),
        c("E", "arr", d(1), 10_000), c("E", "owner", d(1), label="ann"), c("E", "churned", d(5), 1.0),
        c("E", "churned", d(8), 0.0),
    ]  # fmt: skip
    seen = {"A": d(1), "B": d(2), "C": d(3), "D": d(8, 5), "E": d(1)}
    return Book(first_seen=seen, changes=list(reversed(changes)))  # any order


def test_retention_of_the_whole_book_counts_expansion_contraction_and_churn_but_not_new_accounts() -> None:
    r = portfolio(hand_book(), start=Q3_START, end=Q3_END, months=3, by="none").total.retention
    # cohort A, B, C (E was churned at the start, D is new): start 350k
    assert (r.starting_accounts, r.churned_accounts, r.logo_churn) == (3, 1, pytest.approx(1 / 3))
    assert (r.starting_arr, r.expansion, r.contraction, r.churned_arr) == (350_000, 50_000, 80_000, 50_000)
    assert r.grr == pytest.approx((350 - 80 - 50) / 350)  # 0.6286
    assert r.nrr == pytest.approx((350 + 50 - 80 - 50) / 350)  # 0.7714
    assert (r.new_accounts, r.new_arr) == (1, 30_000)


def test_retention_per_csm_groups_the_cohort_by_its_owner_at_the_start() -> None:
    groups = {g.key: g.retention for g in portfolio(hand_book(), start=Q3_START, end=Q3_END, months=1, by="csm").groups}
    assert set(groups) == {"ann", "bob"}
    ann, bob = groups["ann"], groups["bob"]
    assert (ann.starting_arr, ann.grr, ann.nrr, ann.logo_churn) == (150_000, pytest.approx(2 / 3), 1.0, 0.5)
    assert (bob.starting_arr, bob.grr, bob.nrr, bob.logo_churn) == (200_000, 0.6, 0.6, 0.0)
    assert (ann.new_accounts, bob.new_accounts, bob.new_arr) == (0, 1, 30_000)


def test_retention_per_tier() -> None:
    groups = {
        g.key: g.retention for g in portfolio(hand_book(), start=Q3_START, end=Q3_END, months=1, by="tier").groups
    }
    high, low = groups["high"], groups["low"]
    assert (high.starting_arr, high.grr, high.nrr) == (300_000, pytest.approx(220 / 300), pytest.approx(0.9))
    assert (low.starting_accounts, low.grr, low.nrr, low.logo_churn, low.new_accounts) == (1, 0.0, 0.0, 1.0, 1)


def test_gross_retention_is_capped_at_one_while_net_retention_shows_the_expansion() -> None:
    book = Book({"A": d(1)}, [Change("A", "arr", d(1), 100.0), Change("A", "arr", d(8), 130.0)])
    r = portfolio(book, start=Q3_START, end=Q3_END, months=1, by="none").total.retention
    assert (r.grr, r.nrr, r.logo_churn) == (1.0, pytest.approx(1.3), 0.0)


def test_an_account_without_arr_at_the_start_is_a_logo_but_no_revenue() -> None:
    book = Book({"A": d(1)}, [Change("A", "arr", d(8), 500.0)])
    r = portfolio(book, start=Q3_START, end=Q3_END, months=1, by="none").total.retention
    assert (r.starting_accounts, r.starting_arr, r.expansion, r.grr, r.nrr) == (1, 0, 0, None, None)


def test_an_empty_book_has_no_ratios_rather_than_a_division_by_zero() -> None:
    r = portfolio(Book({}, []), start=Q3_START, end=Q3_END, months=1, by="csm")
    assert r.groups == () and r.total.retention.logo_churn is None and r.total.retention.grr is None


def test_accounts_and_arr_per_band_month_by_month() -> None:
    months = portfolio(hand_book(), start=Q3_START, end=Q3_END, months=3, by="none").total.months
    assert [m.month for m in months] == ["2026-07", "2026-08", "2026-09"]
    table = [{b.band: (b.accounts, b.arr) for b in m.bands if b.accounts} for m in months]
    assert table[0] == {"healthy": (1, 100_000), "caution": (1, 50_000), "unscored": (1, 200_000)}
    # August: C churned (gone), D new, E won back, A expanded
    assert table[1] == {"healthy": (1, 150_000), "unscored": (3, 240_000)}
    assert table[2] == {"good": (1, 150_000), "unscored": (3, 160_000)}
    assert [b.band for b in months[0].bands] == ["good", "healthy", "caution", "action_required", "unscored"]


def test_bands_per_csm_follow_the_owner_of_each_month() -> None:
    groups = portfolio(hand_book(), start=Q3_START, end=Q3_END, months=3, by="csm").groups
    bob = next(g for g in groups if g.key == "bob")
    assert [sum(b.accounts for b in m.bands) for m in bob.months] == [1, 2, 2]  # D joined in August


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("2026-Q3", Q3_START, Q3_END),
        ("2026-q3", Q3_START, Q3_END),
        ("2025", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-11", d(11), d(11, 20)),  # not over yet: ends now
        ("ttm", datetime(2025, 11, 20, tzinfo=UTC), d(11, 20)),
        (None, datetime(2025, 11, 20, tzinfo=UTC), d(11, 20)),
    ],
)
def test_periods(raw: str | None, start: datetime, end: datetime) -> None:
    p = parse_period(raw, now=d(11, 20))
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-13", "month 13"),
        ("2026-Q5", "use ttm"),
        ("2027", "not started"),
        ("x", "use ttm"),
        ("0000", "1970 to 9998"),
        ("9999-Q4", "1970 to 9998"),
    ],
)
def test_a_bad_period_says_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(raw, now=d(11, 20))


def test_month_ends_cross_a_year_and_stop_at_now() -> None:
    assert month_ends(datetime(2026, 2, 10, tzinfo=UTC), 3) == [
        ("2025-12", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02", datetime(2026, 2, 10, tzinfo=UTC)),
    ]


def test_book_facts_record_arr_owner_and_churn_only_when_they_change() -> None:
    at = d(3)
    new = Profile("A", {"mrr": 1000, "csm_owner": " ann "}, first_seen_at=at)
    assert book_facts(None, new, at=at) == [Fact("arr", at, value=12_000), Fact("owner", at, label="ann")]
    same = Profile("A", {"mrr": 1000, "csm_owner": "ann", "name": "Acme"}, first_seen_at=at)
    assert book_facts(new, same, at=at) == []
    churned = Profile("A", {"arr": 9000, "csm_owner": "ann"}, first_seen_at=at, churned=True)
    assert book_facts(same, churned, at=at) == [Fact("arr", at, value=9000), Fact("churned", at, value=1.0)]
    assert book_facts(None, Profile("B", {"ltv": 5, "arr": True}, first_seen_at=at), at=at) == []


def test_a_group_event_with_arr_records_the_book_facts_through_the_decisions() -> None:
    decisions = Decisions(load_config(TouchSettings()))
    account = Account(Snapshot("acme"))
    event = ProductEvent(
        message_id="g1", account_id="acme", kind="group", timestamp=d(3), received_at=d(3),
        traits={"arr": 48_000, "csm_owner": "ann@example.com"},
    )  # fmt: skip
    decisions.apply(account, from_event(event), now=d(3))
    facts = [(f.kind, f.value, f.label) for f in account.changes().facts]
    assert ("arr", 48_000, None) in facts and ("owner", None, "ann@example.com") in facts


KINDS = ("arr", "owner", "tier", "band", "churned")
changes_strategy = st.lists(
    st.builds(
        Change,
        account_id=st.sampled_from(["a", "b", "c"]),
        kind=st.sampled_from(KINDS),
        at=st.integers(1, 12).map(d),
        value=st.sampled_from([None, 0.0, 1.0, 3.0, 500.0]),
        label=st.sampled_from([None, "ann", "high"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    changes=changes_strategy,
    seen=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 12).map(d)),
    instants=st.lists(st.integers(1, 12).map(lambda m: d(m, 15)), min_size=1, max_size=5),
)
def test_the_one_pass_states_equal_reading_each_instant_on_its_own(
    changes: list[Change], seen: dict[str, datetime], instants: list[datetime]
) -> None:
    """The sweep against the definition: an account's state before t is its last change of each
    kind before t (the later one in the input on a tie), for accounts first seen before t."""
    swept = History(Book(seen, changes)).states(instants)
    for t, states in zip(instants, swept, strict=True):
        assert set(states) == {a for a, at in seen.items() if at < t}
        for account, state in states.items():
            last: dict[str, Change] = {}
            for kind in KINDS:
                before = [c for c in changes if c.account_id == account and c.kind == kind and c.at < t]
                if before:
                    latest = max(c.at for c in before)
                    last[kind] = [c for c in before if c.at == latest][-1]  # a tie: the later in the input
            assert state.arr == (last["arr"].value if "arr" in last else None)
            assert state.owner == (last["owner"].label if "owner" in last else None)
            assert state.tier == (last["tier"].label if "tier" in last else None)
            assert state.churned == bool("churned" in last and last["churned"].value)
            band = last.get("band")
            assert state.band == (
                BANDS_WORST_FIRST[int(band.value)]
                if band is not None and band.value is not None and band.value < 4
                else None
            )
