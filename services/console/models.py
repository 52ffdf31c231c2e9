"""What the console shows, as plain values: the read models the Backend port returns.

They are the console's own shapes, not the services' JSON: clients.py maps each service's answer
onto them, so a field renamed in a service API changes one mapping, not every template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

PRIORITIES = ("urgent", "high", "medium", "low")
T = TypeVar("T")


@dataclass(frozen=True)
class AccountQuery:
    owner: str | None = None
    band: str | None = None
    tier: str | None = None
    phase: str | None = None
    search: str | None = None
    sort: str = "score"  # score | -score | name | renewal | owner
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page; ``total`` is None when the service cannot count cheaply (then ``more`` says if a next exists)."""

    items: list[T]
    total: int | None
    limit: int
    offset: int
    more: bool | None = None

    @property
    def has_next(self) -> bool:
        if self.more is not None:
            return self.more
        return self.total is not None and self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str
    score: float | None
    band: str | None
    trend: list[float] = field(default_factory=list)  # last 30 days, oldest first
    tier: str | None = None
    phase: str | None = None
    owner: str | None = None
    open_tasks: int = 0
    renewal_date: date | None = None
    overridden: bool = False
    usage_trend: float | None = None  # usage of the last 30 days vs the 30 before (-0.6 = fell 60 %)
    days_since_login: float | None = None


@dataclass(frozen=True)
class Contribution:
    measure: str
    group: str
    value: float | None
    score: float | None
    weight: float
    contribution: float
    missing: bool = False
    label: str = ""  # the scorecard's own label: shown when the catalogue has none for ``measure``


@dataclass(frozen=True)
class Override:
    score: float | None
    band: str | None
    reason: str
    expires_at: datetime | None
    by: str | None = None


@dataclass(frozen=True)
class ScoreDetail:
    account_id: str
    name: str
    score: float | None
    band: str | None
    computed_at: datetime | None
    contributions: list[Contribution] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    override: Override | None = None
    computed_score: float | None = None  # what the scorecard says when an override is active
    computed_band: str | None = None
    usage_trend: float | None = None
    days_since_login: float | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorePoint:
    at: datetime
    score: float
    band: str | None = None


@dataclass(frozen=True)
class TierInfo:
    account_id: str
    tier: str | None
    reason: str
    phase: str | None = None
    owner: str | None = None
    renewal_date: date | None = None
    name: str | None = None


@dataclass(frozen=True)
class StepRecord:
    step: str
    status: str
    at: datetime | None
    detail: str = ""


@dataclass(frozen=True)
class Enrolment:
    enrolment_id: str
    playbook: str
    status: str  # active | paused | cancelled | completed ...
    current_step: str | None
    started_at: datetime | None
    steps: list[StepRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    task_id: str
    account_id: str
    subject: str
    type: str
    reason: str
    priority: str
    status: str
    owner: str | None
    due_at: datetime | None
    created_at: datetime | None = None
    snoozed_until: datetime | None = None
    body: str = ""
    account_name: str | None = None
    comments: list[tuple[str, str, datetime | None]] = field(default_factory=list)  # (author, text, at)


@dataclass(frozen=True)
class TaskQuery:
    owners: tuple[str, ...] = ()  # empty = anyone
    status: str | None = "open"
    priority: str | None = None
    overdue: bool = False
    account_id: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # e.g. "event.login", "email.opened", "inapp.answered", "task.completed"
    summary: str
    detail: str = ""


@dataclass(frozen=True)
class SurveyAnswer:
    account_id: str
    at: datetime
    score: int | None  # None: a survey without a score (feature usefulness) or a partial answer
    comment: str = ""
    user_id: str | None = None
    survey: str = "nps"  # notify's survey: nps, satisfaction, feature_usefulness ...
    template: str = ""  # the message it answered (churn.exit_survey makes a satisfaction answer an exit one)
    features: tuple[str, ...] = ()  # feature usefulness: the features named useful


@dataclass(frozen=True)
class Milestone:
    """A release or training (notify's GET /v1/milestones) with the NPS of the window before and after it."""

    id: str
    kind: str  # release | training
    title: str
    occurred_at: datetime
    account_id: str | None = None  # None: product-wide
    source: str = "csm"  # event | csm
    nps_before: float | None = None
    nps_after: float | None = None
    answers_before: int = 0
    answers_after: int = 0


@dataclass(frozen=True)
class UsageAround:
    """Health's usage measure (active users ÷ seats) over the days before and after an instant
    (GET /v1/usage/around): the mean over accounts, None for a side without data."""

    before: float | None = None
    after: float | None = None
    accounts_before: int = 0
    accounts_after: int = 0

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class ThemeSubscription:
    """A team subscribed to a feedback theme (notify's /v1/theme-subscriptions)."""

    id: str
    theme: str
    team: str
    kind: str  # standard | slack
    url: str
    disabled: str | None = None  # why notify stopped sending (410, deleted)


TaskAction = Literal["complete", "snooze", "comment", "assign"]
EnrolmentAction = Literal["pause", "resume", "cancel"]


@dataclass(frozen=True)
class NewActivity:
    """A call, meeting, email or note a CSM logs on an account (notify validates it)."""

    kind: str
    contact: str | None
    occurred_at: str  # a date (YYYY-MM-DD) or a time with its zone
    outcome: str
    reached: bool | None
    relationship: int | None
    id: str | None = None  # chosen when the form is shown: submitting it twice logs it once


@dataclass(frozen=True)
class NewTask:
    """A task a CSM opens by hand (notify keeps one open per account + type + reason)."""

    account_id: str
    type: str
    reason: str
    priority: str
    due_at: str | None  # a date (due by its end) or None: the priority's usual time
    owner: str | None
    subject: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    account_id: str | None = None
    action: str | None = None  # a part of the action name
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class AuditEntry:
    """One change a person (or a token) made through a service API: who, when, what, before/after."""

    service: str
    at: datetime
    actor: str
    action: str
    method: str
    route: str
    account_id: str | None
    status: int
    body: Any = None
    before: Any = None
    after: Any = None
    token: str = ""
    params: dict[str, str] = field(default_factory=dict)  # the route's path parameters (task id, action...)
