"""The account list over touch's listing (owner, tier, phase, name) joined with health's scores by account id.

touch's ``GET /v1/accounts`` filters by owner, tier, phase and name and orders by name, then id; it
has no other order and (today) no total. health has no lookup of many accounts at once, so its
score is read per account (``GET /v1/accounts/{id}``) under the backend's limit (≤16 in flight):
for the page's rows only when touch's order is the one asked for, or for every match when the
order (score) or a band filter needs the score. A match set too large for that walks health's
list instead. An order touch cannot give (renewal, owner, name descending) reads every match from
touch and sorts here. When touch's listing is missing (404) or unreachable, BackendRefused carries
the notice the page shows while it falls back to health's list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import mapping
from .models import AccountQuery, AccountRow, Page
from .ports import BackendRefused, BackendUnavailable

if TYPE_CHECKING:
    from .clients import HttpBackend

PAGE = 1000  # the largest page touch's and health's listings give
TOUCH_SCAN_MAX = 10_000  # matches read from touch for an order it cannot give; beyond, no total is shown
HEALTH_EACH_MAX = 500  # up to this many matches health is asked per account; beyond, its list is walked
MISSING = "filtering by owner, tier, phase or name needs touch's account listing (GET /v1/accounts answered 404)"
UNREACHABLE = "touch's account listing is unreachable ({detail}): showing all accounts from health, unfiltered"

_KEYS: dict[str, Callable[[AccountRow], Any]] = {
    "score": lambda r: r.score,
    "name": lambda r: r.name.lower(),
    "renewal": lambda r: r.renewal_date,
    "owner": lambda r: r.owner.lower() if r.owner else None,
}


def sort_rows(rows: list[AccountRow], sort: str) -> list[AccountRow]:
    """Order by ``sort`` (``-`` = descending); rows missing the value come last either way."""
    key = _KEYS.get(sort.lstrip("-"), _KEYS["score"])
    known = sorted(
        (r for r in rows if key(r) is not None), key=lambda r: (key(r), r.account_id), reverse=sort.startswith("-")
    )
    return known + [r for r in rows if key(r) is None]


async def list_via_touch(api: HttpBackend, query: AccountQuery) -> Page[AccountRow]:
    filters = {k: v for k, v in (("owner", query.owner), ("tier", query.tier), ("phase", query.phase)) if v}
    if query.search:
        filters["q"] = query.search
    by_score = query.band is not None or query.sort.lstrip("-") == "score"
    if query.sort == "name" and not by_score:
        # touch's own order: one page (and one more row to know if a next page exists).
        data = await _touch_page(api, {**filters, "limit": query.limit + 1, "offset": query.offset})
        rows = [mapping.touch_listing_row(a) for a in data.get("accounts", [])]
        more, rows, total = len(rows) > query.limit, rows[: query.limit], data.get("total")
        rows = await _join_health(api, rows)
    else:
        rows, complete = await _touch_all(api, filters)
        if by_score:
            found = await _health_of(api, [r.account_id for r in rows], band=query.band)
            rows = [mapping.with_health(r, found.get(r.account_id)) for r in rows]
            rows = [r for r in rows if query.band is None or r.band == query.band]
        rows = sort_rows(rows, query.sort)
        total = len(rows) if complete else None
        more = len(rows) > query.offset + query.limit
        rows = rows[query.offset : query.offset + query.limit]
        if not by_score:
            rows = await _join_health(api, rows)
    return Page(await with_activity(api, rows), total, query.limit, query.offset, more=more)


async def with_activity(api: HttpBackend, rows: list[AccountRow]) -> list[AccountRow]:
    """Each row's 30-day score trend (health) and open task count (notify)."""
    since = (await api.now()) - timedelta(days=30)

    async def one(row: AccountRow) -> AccountRow:
        trend, tasks = await asyncio.gather(
            api.limited(api.history(row.account_id, since=since)),
            api.limited(api.notify.read("/v1/tasks", params={"account_id": row.account_id, "status": "open"})),
        )
        return replace(row, trend=[p.score for p in trend], open_tasks=len((tasks or {}).get("tasks", [])))

    return list(await asyncio.gather(*(one(r) for r in rows)))


async def _touch_page(api: HttpBackend, params: dict[str, Any]) -> dict[str, Any]:
    try:
        data = await api.touch.read("/v1/accounts", params=params)
    except BackendUnavailable as exc:
        raise BackendRefused("touch", 503, UNREACHABLE.format(detail=exc.detail)) from exc
    if data is None:
        raise BackendRefused("touch", 501, MISSING)
    return data  # type: ignore[no-any-return]


async def _touch_all(api: HttpBackend, filters: dict[str, Any]) -> tuple[list[AccountRow], bool]:
    """Every match (up to TOUCH_SCAN_MAX) and whether that is all of them."""
    first = await _touch_page(api, {**filters, "limit": PAGE, "offset": 0})
    pages = [first]
    if "total" in first:  # a listing that counts lets the other pages be read concurrently
        offsets = range(PAGE, min(int(first["total"]), TOUCH_SCAN_MAX), PAGE)
        pages += await asyncio.gather(
            *(api.limited(_touch_page(api, {**filters, "limit": PAGE, "offset": o})) for o in offsets)
        )
    else:
        while len(pages[-1].get("accounts", [])) == PAGE and len(pages) * PAGE < TOUCH_SCAN_MAX:
            pages.append(await _touch_page(api, {**filters, "limit": PAGE, "offset": len(pages) * PAGE}))
    # An account added between two page reads shifts the pages by one: keep its first appearance.
    rows: dict[str, AccountRow] = {}
    for page in pages:
        for a in page.get("accounts", []):
            rows.setdefault(str(a["account_id"]), mapping.touch_listing_row(a))
    if "total" in first:
        return list(rows.values()), int(first["total"]) <= TOUCH_SCAN_MAX
    return list(rows.values()), len(pages[-1].get("accounts", [])) < PAGE


async def _join_health(api: HttpBackend, rows: list[AccountRow]) -> list[AccountRow]:
    found = await _health_each(api, [r.account_id for r in rows])
    return [mapping.with_health(r, found.get(r.account_id)) for r in rows]


async def _health_each(api: HttpBackend, ids: list[str]) -> dict[str, dict[str, Any]]:
    """health's account summary per id (no batch lookup exists), ≤ the backend's limit in flight."""
    answers = await asyncio.gather(*(api.limited(api.health.read(f"/v1/accounts/{quote(i, safe='')}")) for i in ids))
    return {i: a for i, a in zip(ids, answers, strict=True) if a}


async def _health_of(api: HttpBackend, ids: list[str], *, band: str | None) -> dict[str, dict[str, Any]]:
    if len(ids) <= HEALTH_EACH_MAX:
        return await _health_each(api, ids)
    # Many matches: a few pages of health's list cost less than one call per account.
    wanted, found, offset = set(ids), {}, 0
    while True:
        params: dict[str, Any] = {"limit": PAGE, "offset": offset, **({"band": band} if band else {})}
        listed = (await api.health.read("/v1/accounts", params=params) or {}).get("accounts", [])
        found.update({a["account_id"]: a for a in listed if a["account_id"] in wanted})
        if len(listed) < PAGE or len(found) == len(wanted):
            return found
        offset += PAGE
