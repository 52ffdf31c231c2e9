"""What people do with what notify sent: a mail opened (by a person or a prefetching machine) or
clicked, an unsubscribe, an in-app message seen, clicked or dismissed. Each is stamped once and
reported once: the first of its kind stages its outcome in the caller's transaction (answers:
``answers``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .domain.email import is_machine_open
from .domain.outcomes import outcome_for
from .ports import EngagementRepository


async def record_open(
    repo: EngagementRepository, row: Mapping[str, Any], *, now: datetime, human: bool, machine_within: float
) -> None:
    """``human``: a click or an answer proves a person read the mail, whatever the pixel said;
    otherwise an open within ``machine_within`` seconds of sending is a machine's."""
    machine = not human and is_machine_open(sent_at=row["sent_at"], opened_at=now, within_seconds=machine_within)
    if await repo.record_link_event(delivery_id=row["id"], kind="open", now=now, machine=machine):
        occurrence = "opened-machine" if machine else "opened"
        await repo.add_outcomes(
            [outcome_for(row, kind="email.opened", occurrence=occurrence, now=now, machine=machine)]
        )


async def record_click(
    repo: EngagementRepository, row: Mapping[str, Any], *, now: datetime, index: int | None, url: str | None
) -> None:
    if await repo.record_link_event(delivery_id=row["id"], kind="click", now=now, index=index, url=url):
        await repo.add_outcomes(
            [outcome_for(row, kind="email.clicked", occurrence="clicked", now=now, detail=url or "")]
        )


async def unsubscribe(repo: EngagementRepository, row: Mapping[str, Any], *, now: datetime) -> None:
    """Unsubscribe the delivery's address (from its link); reported when it was subscribed until now."""
    if await repo.unsubscribe(email=row["email"], account_id=row["account_id"], via="link", now=now):
        await repo.add_outcomes(
            [outcome_for(row, kind="email.unsubscribed", occurrence="unsubscribed", now=now, detail=row["email"])]
        )


async def record_inapp_event(repo: EngagementRepository, row: Mapping[str, Any], *, event: str, now: datetime) -> bool:
    """Stamp seen/clicked/dismissed on the message; True (and reported) the first time."""
    first = await repo.record_inapp_event(str(row["id"]), event=event, now=now)
    if first:
        await repo.add_outcomes([outcome_for(row, kind=f"inapp.{event}", occurrence=event, now=now)])
    return first
