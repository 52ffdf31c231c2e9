"""The feedback routing loop: each new answer is looked at once, after it was committed.

For every answer given (per answer number, so a changed comment is looked at again) it finds the
themes of its comment with the catalogue and tokenizer the console's feedback page uses
(``touchline.shared.themes``), queues one webhook per subscription to those themes (sent by the
existing webhook loop, signed per Standard Webhooks or as a Slack message), and applies seed 000's
hidden-value rule (``touchline.shared.hidden_value``) to the account: when it holds, the account's
CSM gets a ``value_not_realised`` task through the task rules (one open task per account + type +
reason; a later answer updates it). Once a week each subscription also gets the digest of the week
before. Answers are claimed by inserting their record (``feedback_routed``) in the same transaction
as the webhooks and the task, so a crash or a second replica never routes one twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from touchline.shared.clock import Clock
from touchline.shared.hidden_value import WINDOW, Said, value_not_realised
from touchline.shared.messages import Command, TaskSpec
from touchline.shared.themes import Catalogue, Tokenizer, themes_of

from .adapters import pg_routing, pg_tasks
from .adapters.pg_answers import AnswerFilter, list_answers
from .adapters.pg_repository import PgRepository
from .domain import routing as rules
from .task_handlers import TaskDeps, on_task_command

log = logging.getLogger(__name__)
HIDDEN_VALUE_TASK = ("value_not_realised", "hidden_value")  # task type, reason


def comment_of(row: Mapping[str, Any]) -> rules.Comment:
    answer = row["answer"] or {}
    score = answer.get("score")
    arr = row.get("arr")
    return rules.Comment(
        channel=row["channel"],
        source_id=row["source_id"],
        seq=int(row["seq"]),
        account_id=row["account_id"],
        kind=rules.feedback_kind(survey=answer.get("survey"), template=row.get("template")),
        score=score if isinstance(score, int) and not isinstance(score, bool) else None,
        comment=str(answer.get("comment") or ""),
        answered_at=row["answered_at"],
        account_name=row.get("account_name"),
        tier=row.get("tier"),
        arr=float(arr) if arr is not None else None,
    )


@dataclass
class Router:
    engine: AsyncEngine
    clock: Clock
    tokenizer: Callable[[], Tokenizer]  # built on first use: loading janome's dictionary takes a while
    catalogue: Catalogue
    tasks: TaskDeps
    lookback: timedelta = timedelta(days=7)
    batch: int = 50
    _tokenizer: Tokenizer | None = field(default=None, init=False)

    async def _words(self, text: str) -> list[str]:
        if not text.strip():
            return []
        if self._tokenizer is None:
            built: Tokenizer = await asyncio.to_thread(self.tokenizer)
            self._tokenizer = built
        else:
            built = self._tokenizer
        return await asyncio.to_thread(built.words, text)

    async def route_once(self) -> int:
        """Route one batch of new answers; how many were looked at (0: nothing new)."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            rows = await pg_routing.unrouted(conn, since=now - self.lookback, limit=self.batch)
            if not rows:
                return 0
            subscriptions = await pg_routing.live_subscriptions(conn)
            for row in rows:
                comment = comment_of(row)
                themes = themes_of(comment.comment, await self._words(comment.comment), catalogue=self.catalogue)
                if not await pg_routing.record_routed(conn, comment, themes=themes, now=now):
                    continue
                for subscription in rules.recipients(comment, themes, subscriptions):
                    await self._queue_comment(conn, subscription, comment, themes=themes, now=now)
                if comment.kind in ("nps", "feature_usefulness"):
                    await self._hidden_value(conn, comment, now=now)
        return len(rows)

    async def _queue_comment(
        self,
        conn: AsyncConnection,
        subscription: rules.Subscription,
        comment: rules.Comment,
        *,
        themes: list[str],
        now: datetime,
    ) -> None:
        if subscription.kind == "slack":
            payload: dict[str, Any] = rules.comment_slack(comment, theme=subscription.theme)
        else:
            payload = rules.comment_payload(comment, theme=subscription.theme, themes=themes, now=now)
        await pg_tasks.insert_webhook(
            conn,
            delivery_id=rules.delivery_id(subscription, comment),
            endpoint_id=subscription.endpoint_id,
            event_type=rules.COMMENT_EVENT,
            payload=payload,
            now=now,
        )

    async def _hidden_value(self, conn: AsyncConnection, comment: rules.Comment, *, now: datetime) -> None:
        # Judged as of the answer, not of this pass: an answer committed after the pass read the clock
        # (wall clock) would otherwise look like the future and be left out, and never be judged again.
        at = max(now, comment.answered_at)
        since = at - WINDOW
        rows, _ = await list_answers(
            conn, AnswerFilter(account_id=comment.account_id, since=since), limit=1000, offset=0
        )
        said = [
            Said(
                at=r["answered_at"],
                survey=str((r["answer"] or {}).get("survey")),
                score=(r["answer"] or {}).get("score"),
                features=tuple((r["answer"] or {}).get("features") or ()),
            )
            for r in rows
        ]
        flag = value_not_realised(said, now=at)
        if flag is None:
            return
        type_, reason = HIDDEN_VALUE_TASK
        features = ", ".join(flag.features)
        command_id = f"feedback:{type_}:{comment.channel}:{comment.source_id}:{comment.seq}"
        await on_task_command(
            PgRepository(conn),
            self.tasks,
            Command(
                command_id=command_id,
                account_id=comment.account_id,
                channel="task",
                dedup_key=command_id,
                issued_at=now,
                task=TaskSpec(
                    type=type_,
                    reason=reason,
                    subject=f"Value not realised: NPS {flag.nps} while {features} called useful",
                    body=(
                        f"The latest NPS answer of {comment.account_id} is {flag.nps} (a detractor), yet in the "
                        f"last six months it named these features useful: {features}. Find out what keeps that "
                        "value from showing: who sees it, whether the decision makers know, what outweighs it."
                    ),
                    priority="medium",
                ),
            ),
        )
        log.info("value not realised: task for the CSM", extra={"account": comment.account_id, "nps": flag.nps})

    async def digest_once(self) -> int:
        """Queue last week's digest for every subscription that has not had it; how many were queued."""
        if not self.clock.known:  # a simulated clock not heard yet would date the week by the wall clock
            return 0
        now = self.clock.now()
        week = rules.last_full_week(now)
        queued = 0
        async with self.engine.begin() as conn:
            for subscription in await pg_routing.live_subscriptions(conn):
                did = rules.digest_id(subscription, week)
                if not rules.digest_due(subscription, week) or await pg_routing.webhook_exists(conn, did):
                    continue
                lines = await pg_routing.digest_lines(conn, theme=subscription.theme, start=week.start, end=week.end)
                if subscription.kind == "slack":
                    payload: dict[str, Any] = rules.digest_slack(subscription, week, lines)
                else:
                    payload = rules.digest_payload(subscription, week, lines, now=now)
                await pg_tasks.insert_webhook(
                    conn, delivery_id=did, endpoint_id=subscription.endpoint_id, event_type=rules.DIGEST_EVENT,
                    payload=payload, now=now,
                )  # fmt: skip
                queued += 1
        return queued

    async def once(self) -> int:
        return await self.route_once() + await self.digest_once()
