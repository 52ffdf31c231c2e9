"""What each user may see now, for many users in one transaction (the API and the stream watcher).

Deciding marks first showings (they count against the frequency cap) and records ``inapp.shown``
in the same transaction, so a showing is counted exactly when it is handed out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .adapters.pg_repository import PgRepository
from .domain.inapp import InboxItem, eligible
from .domain.outcomes import outcome_for
from .domain.surveys import awaits_answer
from .ports import InboxRepository

Message = dict[str, Any]


def view(row: Mapping[str, Any]) -> Message:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "survey": row["survey"],
        "template": row["template"],
        "locale": row["locale"],
        "title": row["title"],
        "body": row["body"],
        "question": row["question"],
        "choices": row["choices"],
        "cta": {"label": row["cta_label"], "url": row["cta_url"]} if row["cta_url"] else None,
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
    }


def _item(row: Mapping[str, Any]) -> InboxItem:
    closed = bool(row["dismissed_at"] or (row["answered_at"] and not awaits_answer(row["answer"])))
    return InboxItem(row["id"], row["kind"], row["created_at"], row["expires_at"], row["shown_at"], closed)


async def eligible_messages(
    repo: InboxRepository, user_ids: Sequence[str], *, now: datetime, cap_count: int, cap_window: timedelta
) -> dict[str, list[Message]]:
    """Each user's eligible messages, oldest first; a user with none is left out."""
    found, _ = await _decide(repo, user_ids, now=now, cap_count=cap_count, cap_window=cap_window)
    return found


async def _decide(
    repo: InboxRepository, user_ids: Sequence[str], *, now: datetime, cap_count: int, cap_window: timedelta
) -> tuple[dict[str, list[Message]], int]:
    """The eligible messages per user, and how many were shown for the first time."""
    if not user_ids:
        return {}, 0
    by_user: dict[str, list[Mapping[str, Any]]] = {}
    for row in await repo.users_messages(user_ids, now=now, since=now - cap_window):
        by_user.setdefault(row["user_id"], []).append(row)
    shown: dict[str, list[Mapping[str, Any]]] = {}
    newly: list[str] = []
    for user, rows in by_user.items():
        decision = eligible([_item(r) for r in rows], now=now, cap_count=cap_count, cap_window=cap_window)
        ids = set(decision.show)
        shown[user] = [r for r in rows if r["id"] in ids]
        newly.extend(decision.newly_shown)
    marked = await repo.mark_shown(newly, now=now)
    if marked:
        await repo.add_outcomes([outcome_for(r, kind="inapp.shown", occurrence="shown", now=now) for r in marked])
    return {user: [view(r) for r in rows] for user, rows in shown.items() if rows}, len(marked)


@dataclass(frozen=True)
class PgInbox:
    """The stream watcher's InboxSource: one transaction for all the users it checks."""

    engine: AsyncEngine
    now: Callable[[], datetime]
    cap_count: int
    cap_window: timedelta
    shown: Callable[[], None]  # wakes the outcome relay: first showings were recorded

    async def eligible(self, user_ids: Sequence[str]) -> Mapping[str, Sequence[Message]]:
        async with self.engine.begin() as conn:
            found, marked = await _decide(
                PgRepository(conn), user_ids, now=self.now(), cap_count=self.cap_count, cap_window=self.cap_window
            )
        if marked:
            self.shown()
        return found
