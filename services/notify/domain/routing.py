"""Feedback routing: which team hears of a new comment, what it is sent, and the weekly digest.

Pure. A team subscribes to a theme (``touchline.shared.themes``: the catalogue the console's feedback
page counts with) through a Standard Webhooks endpoint or a Slack incoming webhook; each new comment
on the theme, answered after the subscription was made, is sent with the account's tier and ARR.
Every Monday (service clock) each subscription gets the digest of the week before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KINDS = ("standard", "slack")
COMMENT_EVENT = "feedback.comment"
DIGEST_EVENT = "feedback.digest"
EXCERPT = 300  # characters of a comment quoted in a digest


@dataclass(frozen=True)
class Subscription:
    id: str
    theme: str
    team: str
    kind: str  # "standard" | "slack"
    endpoint_id: str
    created_at: datetime


@dataclass(frozen=True)
class Comment:
    """One answer with a comment, as routed: where it came from and who gave it."""

    channel: str  # "in_app" | "email"
    source_id: str
    seq: int  # the message's answer number: a changed comment is routed again
    account_id: str
    kind: str  # nps | satisfaction | exit | feature_usefulness ...
    score: int | None
    comment: str
    answered_at: datetime
    account_name: str | None = None
    tier: str | None = None
    arr: float | None = None


def subscription_endpoint_id(subscription_id: str) -> str:
    """Each subscription posts through an endpoint of its own, so deleting it stops exactly its posts."""
    return "ep-sub-" + hashlib.sha256(f"touchline-theme-subscription\0{subscription_id}".encode()).hexdigest()[:16]


def feedback_kind(*, survey: str | None, template: str | None) -> str:
    """The survey, except a satisfaction survey sent as the exit survey (churn.*) is "exit"."""
    if survey == "satisfaction" and (template or "").startswith("churn."):
        return "exit"
    return survey or "unknown"


def delivery_id(subscription: Subscription, comment: Comment) -> str:
    """Deterministic: routing the same answer again (a crash before it was recorded) queues nothing new."""
    return f"{subscription.endpoint_id}:comment:{comment.channel}:{comment.source_id}:{comment.seq}"


def recipients(comment: Comment, themes: Sequence[str], subscriptions: Sequence[Subscription]) -> list[Subscription]:
    """The subscriptions to one of the comment's themes made before it was answered, each once."""
    wanted = set(themes)
    return [s for s in subscriptions if s.theme in wanted and s.created_at <= comment.answered_at]


def comment_payload(comment: Comment, *, theme: str, themes: Sequence[str], now: datetime) -> dict[str, Any]:
    return {
        "type": COMMENT_EVENT,
        "timestamp": now.isoformat(),
        "data": {
            "theme": theme,
            "themes": list(themes),
            "account_id": comment.account_id,
            "account_name": comment.account_name,
            "tier": comment.tier,
            "arr": comment.arr,
            "survey": comment.kind,
            "score": comment.score,
            "comment": comment.comment,
            "answered_at": comment.answered_at.isoformat(),
        },
    }


def _money(arr: float | None) -> str:
    return "ARR unknown" if arr is None else f"ARR {arr:,.0f}"


def comment_slack(comment: Comment, *, theme: str) -> dict[str, str]:
    score = "" if comment.score is None else f" {comment.score}"
    who = comment.account_name or comment.account_id
    return {
        "text": f"[{theme}] {who} ({comment.tier or 'tier unknown'}, {_money(comment.arr)}) — "
        f"{comment.kind}{score}: {comment.comment}"
    }


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00 in the clock's time zone
    end: datetime  # exclusive

    @property
    def key(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year:04d}-W{week:02d}"


def last_full_week(now: datetime) -> Week:
    """The Monday-to-Monday week before the one ``now`` is in."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return Week(start=monday - timedelta(days=7), end=monday)


def digest_id(subscription: Subscription, week: Week) -> str:
    return f"{subscription.endpoint_id}:digest:{week.key}"


def digest_due(subscription: Subscription, week: Week) -> bool:
    """A subscription gets digests of weeks that ended after it was made (it asked for news from then on)."""
    return week.end > subscription.created_at


@dataclass(frozen=True)
class DigestLine:
    account_id: str
    kind: str
    score: int | None
    comment: str
    answered_at: datetime


def digest_payload(
    subscription: Subscription, week: Week, lines: Sequence[DigestLine], *, now: datetime
) -> dict[str, Any]:
    by_kind: dict[str, int] = {}
    for line in lines:
        by_kind[line.kind] = by_kind.get(line.kind, 0) + 1
    return {
        "type": DIGEST_EVENT,
        "timestamp": now.isoformat(),
        "data": {
            "theme": subscription.theme,
            "team": subscription.team,
            "week": week.key,
            "from": week.start.isoformat(),
            "until": week.end.isoformat(),
            "comments": len(lines),
            "accounts": len({line.account_id for line in lines}),
            "by_survey": dict(sorted(by_kind.items())),
            "latest": [
                {
                    "account_id": line.account_id,
                    "survey": line.kind,
                    "score": line.score,
                    "comment": line.comment[:EXCERPT],
                    "answered_at": line.answered_at.isoformat(),
                }
                for line in sorted(lines, key=lambda x: x.answered_at, reverse=True)[:10]
            ],
        },
    }


def digest_slack(subscription: Subscription, week: Week, lines: Sequence[DigestLine]) -> dict[str, str]:
    accounts = len({line.account_id for line in lines})
    head = f"[{subscription.theme}] week {week.key}: {len(lines)} comments from {accounts} accounts"
    quotes = [
        f"• {line.account_id}: {line.comment[:EXCERPT]}"
        for line in sorted(lines, key=lambda x: x.answered_at, reverse=True)[:5]
    ]
    return {"text": "\n".join([head, *quotes])}
