"""The console's one port: everything it reads or changes goes through the owning services' APIs.

clients.HttpBackend speaks HTTP to health, touch and notify; fake.InMemoryBackend serves unit and
browser tests. A service that refuses a change raises BackendRefused with its message, which the
console shows to the CSM; a service that cannot be reached raises BackendUnavailable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from .models import (
    AccountQuery,
    AccountRow,
    AuditEntry,
    AuditQuery,
    Enrolment,
    EnrolmentAction,
    Milestone,
    NewActivity,
    NewTask,
    Page,
    ScoreDetail,
    ScorePoint,
    SurveyAnswer,
    Task,
    TaskQuery,
    ThemeSubscription,
    TierInfo,
    TimelineItem,
    UsageAround,
)
from .weights import TrustReport, WeightsComparison


class BackendRefused(Exception):
    """A service answered 4xx: the message is the service's own and is shown to the CSM."""

    def __init__(self, service: str, status: int, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service, self.status, self.message = service, status, message


class BackendUnavailable(Exception):
    """A service did not answer (down, timeout, 5xx)."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service} unavailable: {detail}")
        self.service, self.detail = service, detail


class Backend(Protocol):
    async def now(self) -> datetime: ...

    async def list_accounts(self, query: AccountQuery) -> Page[AccountRow]: ...

    async def score(self, account_id: str) -> ScoreDetail | None: ...

    async def history(self, account_id: str, *, since: datetime) -> list[ScorePoint]: ...

    async def set_override(
        self,
        account_id: str,
        *,
        score: float | None,
        band: str | None,
        reason: str,
        expires_at: datetime | None,
        by: str,
    ) -> None: ...

    async def clear_override(self, account_id: str, *, by: str) -> None: ...

    async def tier(self, account_id: str) -> TierInfo | None: ...

    async def enrolments(self, account_id: str) -> list[Enrolment]: ...

    async def enrolment_action(self, enrolment_id: str, action: EnrolmentAction, *, by: str) -> None: ...

    async def enrol(self, account_id: str, playbook: str, *, by: str) -> None: ...

    async def tasks(self, query: TaskQuery) -> Page[Task]: ...

    async def open_task(self, task: NewTask, *, by: str) -> str:
        """Opens it and answers its id; a duplicate of an open task is BackendRefused (409) naming it."""
        ...

    async def log_activity(self, account_id: str, activity: NewActivity, *, by: str) -> None: ...

    async def task_action(self, task_id: str, action: str, payload: dict[str, Any], *, by: str) -> None: ...

    async def timeline(self, account_id: str, *, limit: int) -> list[TimelineItem]: ...

    async def survey_answers(self, *, since: datetime) -> list[SurveyAnswer]: ...

    async def playbook_names(self) -> list[str]: ...

    async def effectiveness(self, playbook: str, *, days: int | None) -> dict[str, Any] | None:
        """touch's effectiveness report (its JSON, EffectivenessView); None for an unknown playbook."""

    async def scorecards(self) -> list[str]: ...

    async def trust(self) -> TrustReport: ...

    async def weights_comparison(self, scorecard: str) -> WeightsComparison | None:
        """Hand-set vs learned weights of one scorecard; None when health has no such scorecard."""
        ...

    async def weights_proposal(self, scorecard: str) -> str | None:
        """The proposal YAML; None for an unknown scorecard; BackendRefused (409) when there is none."""
        ...

    async def audit(self, query: AuditQuery) -> list[AuditEntry]: ...

    async def validate(self, kind: str, text: str) -> list[str]:
        """The problems of a playbook (touch) or scorecards file (health); [] when it is valid."""
        ...

    async def milestones(self, *, since: datetime, account_id: str | None = None) -> tuple[list[Milestone], int]:
        """Milestones since ``since`` (newest first) and the window (days) their NPS before/after covers."""
        ...

    async def add_milestone(
        self, *, kind: str, title: str, occurred_at: datetime, account_id: str | None, by: str
    ) -> None: ...

    async def usage_around(self, *, at: datetime, days: int, account_id: str | None) -> UsageAround:
        """Health's usage over ``days`` before and after ``at``, of one account or of all (None)."""
        ...

    async def theme_subscriptions(self) -> list[ThemeSubscription]: ...

    async def subscribe_theme(self, *, theme: str, team: str, kind: str, url: str) -> str | None:
        """Subscribe; the Standard Webhooks secret (shown once) or None for Slack."""
        ...

    async def unsubscribe_theme(self, subscription_id: str) -> None: ...

    async def portfolio(self, *, period: str, by: str, months: int) -> dict[str, Any]:
        """touch's portfolio view (its JSON, PortfolioView): retention and bands over time."""
        ...

    async def aclose(self) -> None: ...
