"""touch's portfolio view: computing retention and bands from a synthetic book. Not a test.

In one run, on the same facts:
- baseline: one plain pass that files every fact under its account and sorts each account's facts
  by time — the least any reading of the history must do;
- portfolio: ``domain/portfolio.portfolio`` over a half-year period with 12 months of bands, for
  the whole book and per CSM.

The database read is left out (three indexed queries); this measures the computation.

    .venv/bin/python -m bench.touch_portfolio [--accounts 20000] [--csms 50]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from touchline.touch.domain.portfolio import Book, Change, portfolio


def synthetic_book(accounts: int, csms: int, *, seed: int = 1) -> Book:
    rng = random.Random(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    seen: dict[str, datetime] = {}
    changes: list[Change] = []
    for i in range(accounts):
        a, at = f"a{i}", t0 + timedelta(days=rng.randint(0, 500))
        seen[a] = at
        changes += [
            Change(a, "arr", at, rng.randint(1, 100) * 1000.0),
            Change(a, "owner", at, label=f"csm{rng.randint(1, csms)}"),
            Change(a, "tier", at, label=rng.choice(["high", "low", "tech"])),
        ]
        changes += [
            Change(a, "band", at + timedelta(days=rng.randint(0, 300)), float(rng.randint(0, 3)))
            for _ in range(rng.randint(0, 20))
        ]
        if rng.random() < 0.1:
            changes.append(Change(a, "churned", at + timedelta(days=rng.randint(0, 300)), 1.0))
    return Book(seen, changes)


def baseline(book: Book) -> None:
    by_account: dict[str, list[tuple[float, Change]]] = {}
    for c in book.changes:
        by_account.setdefault(c.account_id, []).append((c.at.timestamp(), c))
    for changes in by_account.values():
        changes.sort(key=lambda tc: tc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--csms", type=int, default=50)
    args = parser.parse_args()
    book = synthetic_book(args.accounts, args.csms)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    began = time.perf_counter()
    baseline(book)
    base = time.perf_counter() - began
    print(f"{args.accounts} accounts, {len(book.changes)} facts, 12 months")
    print(f"baseline (file and sort the facts): {base:.2f} s")
    for by in ("none", "csm"):
        began = time.perf_counter()
        portfolio(book, start=start, end=end, months=12, by=by)  # type: ignore[arg-type]
        took = time.perf_counter() - began
        print(f"portfolio by {by}: {took:.2f} s ({took / base:.1f}x the baseline)")


if __name__ == "__main__":
    main()
