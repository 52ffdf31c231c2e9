"""An in-memory Backend: the unit tests' fake and the data the browser tests and demo mode show.

It applies the same rules the services are expected to apply (override replaces score/band until it
expires, a completed task leaves the open list, a cancelled enrolment stays cancelled) so a UI
test sees the effect of its action. ``demo.demo_backend`` fills it with deterministic sample accounts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import yaml

from touchline.shared.contact import ACTIVITY_KINDS, activity_reached_customer

from .listing import sort_rows
from .models import (
    AccountQuery,
    AccountRow,
    AuditEntry,
    AuditQuery,
    Enrolment,
    Milestone,
    NewActivity,
    NewTask,
    Override,
    Page,
    ScoreDetail,
    ScorePoint,
    StepRecord,
    SurveyAnswer,
    Task,
    TaskQuery,
    ThemeSubscription,
    TierInfo,
    TimelineItem,
    UsageAround,
)
from .ports import BackendRefused, BackendUnavailable
from .user_log import matching
from .weights import TrustReport, WeightsComparison


def band_of(score: float) -> str:
    return "good" if score >= 75 else "healthy" if score >= 50 else "caution" if score >= 25 else "action_required"


class InMemoryBackend:
    def __init__(self, *, now: datetime) -> None:
        self.clock = now
        self.scores: dict[str, ScoreDetail] = {}
        self.history_points: dict[str, list[ScorePoint]] = {}
        self.tiers: dict[str, TierInfo] = {}
        self.enrolment_list: dict[str, list[Enrolment]] = {}
        self.task_list: dict[str, Task] = {}
        self.timelines: dict[str, list[TimelineItem]] = {}
        self.answers: list[SurveyAnswer] = []
        self.trust_report = TrustReport(outcomes=0, horizons=[])
        self.comparisons: dict[str, WeightsComparison] = {}  # per scorecard; a name without one is unknown
        self.proposals: dict[str, str] = {}
        self.milestone_list: list[Milestone] = []
        self.usage: dict[tuple[datetime, str | None], UsageAround] = {}  # (at, account) -> usage around it
        self.usage_asked: list[tuple[datetime, int, str | None]] = []
        self.subscriptions: list[ThemeSubscription] = []
        self.calls: list[tuple[str, Any]] = []  # what the console asked to change, for tests
        # playbook -> touch's effectiveness report as its API answers it (EffectivenessView JSON)
        self.effectiveness_reports: dict[str, dict[str, Any]] = {}
        self.audit_entries: list[AuditEntry] = []
        # by (none, csm, tier) -> touch's portfolio view as its API answers it (PortfolioView JSON)
        self.portfolio_views: dict[str, dict[str, Any]] = {}

    async def now(self) -> datetime:
        return self.clock

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return matching(self.audit_entries, query)

    async def validate(self, kind: str, text: str) -> list[str]:
        """Only "is it YAML with a name": the services hold the real rules."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return [f"body: not valid YAML: {exc}"]
        return [] if isinstance(data, dict) and data.get("name") else [f"body: a {kind} needs a name"]

    async def list_accounts(self, query: AccountQuery) -> Page[AccountRow]:
        open_tasks = Counter(t.account_id for t in self.task_list.values() if t.status == "open")
        rows = [self._row(account_id, open_tasks=open_tasks[account_id]) for account_id in self.scores]
        if query.owner:
            rows = [r for r in rows if r.owner == query.owner]
        if query.band:
            rows = [r for r in rows if r.band == query.band]
        if query.tier:
            rows = [r for r in rows if r.tier == query.tier]
        if query.phase:
            rows = [r for r in rows if r.phase == query.phase]
        if query.search:
            needle = query.search.lower()
            rows = [r for r in rows if needle in r.name.lower() or needle in r.account_id.lower()]
        rows = sort_rows(rows, query.sort)  # the HTTP backend's order: missing values last
        return Page(rows[query.offset : query.offset + query.limit], len(rows), query.limit, query.offset)

    def _row(self, account_id: str, *, open_tasks: int) -> AccountRow:
        detail, tier = self.scores[account_id], self.tiers.get(account_id)
        since = self.clock - timedelta(days=30)
        return AccountRow(
            account_id=account_id,
            name=detail.name,
            score=detail.score,
            band=detail.band,
            trend=[p.score for p in self.history_points.get(account_id, []) if p.at >= since],
            tier=tier.tier if tier else None,
            phase=tier.phase if tier else None,
            owner=tier.owner if tier else None,
            open_tasks=open_tasks,
            renewal_date=tier.renewal_date if tier else None,
            overridden=detail.override is not None,
        )

    async def score(self, account_id: str) -> ScoreDetail | None:
        return self.scores.get(account_id)

    async def history(self, account_id: str, *, since: datetime) -> list[ScorePoint]:
        return [p for p in self.history_points.get(account_id, []) if p.at >= since]

    async def set_override(
        self,
        account_id: str,
        *,
        score: float | None,
        band: str | None,
        reason: str,
        expires_at: datetime | None,
        by: str,
    ) -> None:
        detail = self._existing(account_id)
        if score is None and band is None:
            raise BackendRefused("health", 422, "score or band is required")
        override = Override(score=score, band=band, reason=reason, expires_at=expires_at, by=by)
        new_band = band or band_of(score if score is not None else detail.score or 0)
        self.scores[account_id] = replace(
            detail,
            score=score if score is not None else detail.score,
            band=new_band,
            override=override,
            computed_score=detail.computed_score if detail.override else detail.score,
            computed_band=detail.computed_band if detail.override else detail.band,
        )
        self.calls.append(("override", (account_id, score, band, reason, expires_at, by)))

    async def clear_override(self, account_id: str, *, by: str) -> None:
        detail = self._existing(account_id)
        if detail.override:
            self.scores[account_id] = replace(
                detail, score=detail.computed_score, band=detail.computed_band, override=None
            )
        self.calls.append(("clear_override", (account_id, by)))

    def _existing(self, account_id: str) -> ScoreDetail:
        if account_id not in self.scores:
            raise BackendRefused("health", 404, f"account {account_id} not found")
        return self.scores[account_id]

    async def tier(self, account_id: str) -> TierInfo | None:
        return self.tiers.get(account_id)

    async def enrolments(self, account_id: str) -> list[Enrolment]:
        return list(self.enrolment_list.get(account_id, []))

    async def enrolment_action(self, enrolment_id: str, action: str, *, by: str) -> None:
        allowed = {"pause": ("active",), "resume": ("paused",), "cancel": ("active", "paused")}
        after = {"pause": "paused", "resume": "active", "cancel": "cancelled"}
        for account_id, items in self.enrolment_list.items():
            for i, e in enumerate(items):
                if e.enrolment_id == enrolment_id:
                    if e.status not in allowed[action]:
                        raise BackendRefused("touch", 409, f"cannot {action} an enrolment that is {e.status}")
                    step = StepRecord(step=action, status=after[action], at=self.clock, detail=by)
                    items[i] = replace(e, status=after[action], steps=[*e.steps, step])
                    self.calls.append(("enrolment", (account_id, enrolment_id, action, by)))
                    return
        raise BackendRefused("touch", 404, f"enrolment {enrolment_id} not found")

    async def enrol(self, account_id: str, playbook: str, *, by: str) -> None:
        if playbook not in await self.playbook_names():
            raise BackendRefused("touch", 422, f"playbook: unknown playbook {playbook!r}")
        items = self.enrolment_list.setdefault(account_id, [])
        if any(e.playbook == playbook and e.status in ("active", "paused") for e in items):
            raise BackendRefused("touch", 409, f"account {account_id} is already enrolled in {playbook}")
        step = StepRecord(step="enrolled", status="entered", at=self.clock, detail=f"enrolled by {by}")
        items.append(Enrolment(f"enr-{len(self.calls)}", playbook, "active", None, self.clock, [step]))
        self.calls.append(("enrol", (account_id, playbook, by)))

    async def open_task(self, task: NewTask, *, by: str) -> str:
        """The service's rule: one open task per account + type + reason (a duplicate names the open one)."""
        for open_one in self.task_list.values():
            same = (open_one.account_id, open_one.type, open_one.reason) == (task.account_id, task.type, task.reason)
            if same and open_one.status in ("open", "snoozed"):
                raise BackendRefused("notify", 409, f"task {open_one.task_id} is already open for {task.account_id}")
        task_id = f"task-{len(self.task_list) + 1}"
        due = datetime.fromisoformat(f"{task.due_at}T23:59:59+00:00") if task.due_at else self.clock + timedelta(days=3)
        self.task_list[task_id] = Task(
            task_id, task.account_id, task.subject or f"{task.type}: {task.reason}", task.type, task.reason,
            task.priority, "open", task.owner or by, due, created_at=self.clock,
        )  # fmt: skip
        self.calls.append(("open_task", (task, by)))
        return task_id

    async def log_activity(self, account_id: str, activity: NewActivity, *, by: str) -> None:
        if activity.kind not in ACTIVITY_KINDS:
            raise BackendRefused("notify", 422, f"kind: {activity.kind!r} is not one of {', '.join(ACTIVITY_KINDS)}")
        if activity.id is not None and any(c[0] == "activity" and c[1][1].id == activity.id for c in self.calls):
            return  # the service's rule: the same id logs it once
        reached = activity_reached_customer(kind=activity.kind, reached=bool(activity.reached))
        at = datetime.fromisoformat(f"{activity.occurred_at}T00:00:00+00:00")
        item = TimelineItem(
            at, f"activity.{activity.kind}.{'reached' if reached else 'not_reached'}", activity.outcome,
            activity.contact or "",
        )  # fmt: skip
        self.timelines.setdefault(account_id, []).append(item)
        self.calls.append(("activity", (account_id, activity, by)))

    async def tasks(self, query: TaskQuery) -> Page[Task]:
        items = list(self.task_list.values())
        if query.owners:
            items = [t for t in items if t.owner in query.owners]
        if query.status:
            items = [t for t in items if t.status == query.status]
        if query.priority:
            items = [t for t in items if t.priority == query.priority]
        if query.account_id:
            items = [t for t in items if t.account_id == query.account_id]
        if query.overdue:
            items = [t for t in items if t.due_at is not None and t.due_at < self.clock and t.status == "open"]
        rank = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
        items.sort(key=lambda t: (rank.get(t.priority, 9), t.due_at or datetime.max.replace(tzinfo=self.clock.tzinfo)))
        return Page(items[query.offset : query.offset + query.limit], len(items), query.limit, query.offset)

    async def task_action(self, task_id: str, action: str, payload: dict[str, Any], *, by: str) -> None:
        task = self.task_list.get(task_id)
        if task is None:
            raise BackendRefused("notify", 404, f"task {task_id} not found")
        if task.status != "open":
            raise BackendRefused("notify", 409, f"task {task_id} is {task.status}")
        if action == "complete":
            task = replace(task, status="completed")
        elif action == "snooze":
            task = replace(task, snoozed_until=payload["until"], due_at=payload["until"])
        elif action == "comment":
            task = replace(task, comments=[*task.comments, (by, payload["text"], self.clock)])
        elif action == "assign":
            task = replace(task, owner=payload["owner"])
        self.task_list[task_id] = task
        self.calls.append(("task", (task_id, action, payload, by)))

    async def timeline(self, account_id: str, *, limit: int) -> list[TimelineItem]:
        return sorted(self.timelines.get(account_id, []), key=lambda i: i.at, reverse=True)[:limit]

    async def milestones(self, *, since: datetime, account_id: str | None = None) -> tuple[list[Milestone], int]:
        found = [
            m for m in self.milestone_list
            if m.occurred_at >= since and (account_id is None or m.account_id in (None, account_id))
        ]  # fmt: skip
        return sorted(found, key=lambda m: m.occurred_at, reverse=True), 30

    async def add_milestone(
        self, *, kind: str, title: str, occurred_at: datetime, account_id: str | None, by: str
    ) -> None:
        self.milestone_list.append(
            Milestone(f"csm:{len(self.milestone_list) + 1}", kind, title, occurred_at, account_id, "csm")
        )

    async def usage_around(self, *, at: datetime, days: int, account_id: str | None) -> UsageAround:
        self.usage_asked.append((at, days, account_id))
        return self.usage.get((at, account_id), UsageAround())

    async def theme_subscriptions(self) -> list[ThemeSubscription]:
        return list(self.subscriptions)

    async def subscribe_theme(self, *, theme: str, team: str, kind: str, url: str) -> str | None:
        self.subscriptions.append(ThemeSubscription(f"sub-{len(self.subscriptions) + 1}", theme, team, kind, url))
        return "whsec_ZmFrZS1zZWNyZXQ=" if kind == "standard" else None

    async def unsubscribe_theme(self, subscription_id: str) -> None:
        if not any(s.id == subscription_id for s in self.subscriptions):
            raise BackendRefused("notify", 404, f"no subscription {subscription_id}")
        self.subscriptions = [s for s in self.subscriptions if s.id != subscription_id]

    async def survey_answers(self, *, since: datetime) -> list[SurveyAnswer]:
        return [a for a in self.answers if a.at >= since]

    async def playbook_names(self) -> list[str]:
        return sorted(self.effectiveness_reports)

    async def effectiveness(self, playbook: str, *, days: int | None) -> dict[str, Any] | None:
        report = self.effectiveness_reports.get(playbook)
        return None if report is None else {**report, "days": days or report["days"]}

    async def scorecards(self) -> list[str]:
        return list(self.comparisons)

    async def trust(self) -> TrustReport:
        return self.trust_report

    async def weights_comparison(self, scorecard: str) -> WeightsComparison | None:
        return self.comparisons.get(scorecard)

    async def weights_proposal(self, scorecard: str) -> str | None:
        found = self.comparisons.get(scorecard)
        if found is None:
            return None
        if not found.proposed:
            raise BackendRefused("health", 409, found.refused or "no proposal")
        return self.proposals[scorecard]

    async def portfolio(self, *, period: str, by: str, months: int) -> dict[str, Any]:
        self.calls.append(("portfolio", {"period": period, "by": by, "months": months}))
        if by not in self.portfolio_views:
            raise BackendUnavailable("touch", f"no portfolio view by {by} in the in-memory backend")
        return {**self.portfolio_views[by], "period": period}

    async def aclose(self) -> None:
        return None
