"""Recording a survey answer, in-app or from a mail: checked against what was offered, merged with
the earlier answer to the same message (a follow-up completes a partial answer), and published as
its own outcome.

Every answer a person gives is a new outcome: its id carries the message's answer number
(``notify:<message or delivery id>:answered-000003``, kept in Postgres), so an answer changed back
(9 → 2 → 9) is published three times and the latest wins downstream, while a repeated submission
of the current answer (a retry, a second click on the same link) is no new answer and publishes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .domain.outcomes import outcome_for
from .domain.surveys import check_offered, merge_answer
from .ports import AnswerRepository


def answer_occurrence(seq: int) -> str:
    # Zero-padded so that ids of one message sort in answer order (health breaks time ties by id).
    return f"answered-{seq:06d}"


def offered_in_app(row: Mapping[str, Any]) -> list[Any] | None:
    """The values an in-app survey offered as choices (None: it listed none, e.g. a free score)."""
    choices = row.get("choices") or []
    values = [c.get("value") for c in choices if isinstance(c, dict)]
    return values or None


async def _store(
    repo: AnswerRepository, row: Mapping[str, Any], given: Mapping[str, Any], *, channel: str, now: datetime
) -> dict[str, Any] | None:
    merged = merge_answer(row.get("answer"), given)
    seq = await repo.store_answer(channel=channel, source_id=str(row["id"]), answer=merged, now=now)
    if seq is None:
        return None
    kind = "inapp.answered" if channel == "in_app" else "email.answered"
    outcome = outcome_for(row, kind=kind, occurrence=answer_occurrence(seq), now=now, answer=merged)
    await repo.add_outcomes([outcome])
    return merged


async def answer_in_app(
    repo: AnswerRepository, row: Mapping[str, Any], given: Mapping[str, Any], *, now: datetime
) -> dict[str, Any] | None:
    """Record an in-app answer (``row`` locked by the caller); the stored answer when it is a new one.

    NotOffered when it names a choice the message did not offer.
    """
    check_offered(given, offered_in_app(row))
    return await _store(repo, row, given, channel="in_app", now=now)


async def answer_email(
    repo: AnswerRepository, delivery_id: str, given: Mapping[str, Any], *, now: datetime
) -> tuple[Mapping[str, Any], dict[str, Any] | None] | None:
    """Record a one-click (or follow-up) answer to a mail: (the delivery, the stored answer when it
    is a new one), or None when there is no such delivery. The answer comes from a signed link, so
    it is one the mail offered."""
    row = await repo.lock_delivery(delivery_id)
    if row is None:
        return None
    await repo.log_email_answer(delivery_id=delivery_id, answer=given, now=now)
    return row, await _store(repo, row, given, channel="email", now=now)
