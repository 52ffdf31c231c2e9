"""HttpBackend: the Backend port over the health, touch and notify HTTP APIs (bearer token).

One httpx client per service. A 404 on a read means "nothing there"; any other 4xx on a change
becomes BackendRefused carrying the service's own message; a timeout, refused connection or 5xx
becomes BackendUnavailable. The account list joins three services per page (listing.py), so
per-row calls run concurrently under a small limit (≤16 in flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from touchline.shared.settings import CommonSettings

from . import listing, mapping, weights
from .actor import ACTOR
from .models import (
    AccountQuery,
    AccountRow,
    AuditEntry,
    AuditQuery,
    Enrolment,
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
from .ports import BackendRefused, BackendUnavailable
from .settings import ConsoleSettings
from .weights import TrustReport, WeightsComparison

T = TypeVar("T")
# Sorts health can do alone; any other sort or an owner/tier/phase/name filter goes through touch's listing.
HEALTH_SORTS = {"score": "score", "-score": "-score"}
# notify pages its answer listing (at most 1000 a page); the feedback page reads at most ANSWERS_MAX.
ANSWERS_PAGE, ANSWERS_MAX = 1000, 100_000
# Learning weights fits a model per fold on the whole outcome history: seconds, not the
# milliseconds of a read, so it gets its own bound.
LEARN_TIMEOUT_S = 120.0
# The surveys the feedback page reads (an exit survey is a satisfaction survey from churn.exit_survey).
FEEDBACK_SURVEYS = ("nps", "satisfaction", "feature_usefulness")


class ServiceClient:
    def __init__(self, name: str, client: httpx.AsyncClient) -> None:
        self.name, self.client = name, client

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        timeout: float | None = None,
        yaml: str | None = None,
    ) -> httpx.Response:
        actor = ACTOR.get()
        headers = {"x-touchline-actor": actor} if actor else {}
        if yaml is not None:
            headers["content-type"] = "application/yaml"
        try:
            response = await self.client.request(
                method,
                path,
                params=params,
                json=json,
                content=yaml.encode() if yaml is not None else None,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(self.name, exc.__class__.__name__) from exc
        if response.status_code >= 500:
            raise BackendUnavailable(self.name, f"HTTP {response.status_code}")
        return response

    async def read(self, path: str, *, params: Any = None, timeout: float | None = None) -> Any | None:
        """GET; None on 404."""
        response = await self.call("GET", path, params=params, timeout=timeout)
        if response.status_code == 404:
            return None
        self._raise_for(response)
        return response.json()

    async def change(self, method: str, path: str, *, json: Any = None, yaml: str | None = None) -> Any:
        response = await self.call(method, path, json=json, yaml=yaml)
        self._raise_for(response)
        return response.json() if response.content else None

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise BackendRefused(self.name, response.status_code, _message(response))


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text[:300]
    if isinstance(detail, list):  # FastAPI validation errors: name the field
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail)
    return str(detail)[:300]


class HttpBackend:
    def __init__(self, *, health: ServiceClient, touch: ServiceClient, notify: ServiceClient, fanout: int = 16) -> None:
        self.health, self.touch, self.notify = health, touch, notify
        self._limit = asyncio.Semaphore(fanout)

    @classmethod
    def from_settings(cls, common: CommonSettings, settings: ConsoleSettings) -> HttpBackend:
        # The token named "console" in TOUCHLINE_API_TOKENS (admin scope: the audit page reads the
        # audit logs), else TOUCHLINE_API_TOKEN.
        headers = {"authorization": f"Bearer {common.token_named('console')}"}

        def client(name: str, url: str) -> ServiceClient:
            return ServiceClient(name, httpx.AsyncClient(base_url=url, headers=headers, timeout=settings.api_timeout))

        return cls(
            health=client("health", settings.health_url),
            touch=client("touch", settings.touch_url),
            notify=client("notify", settings.notify_url),
        )

    async def aclose(self) -> None:
        for service in (self.health, self.touch, self.notify):
            await service.client.aclose()

    async def limited(self, work: Awaitable[T]) -> T:
        async with self._limit:
            return await work

    async def now(self) -> datetime:
        """The platform's time (simulated in tests and demos), as health's clock tells it."""
        data = await self.health.read("/clock")
        return mapping.when(data["now"]) if data else datetime.now(UTC)  # type: ignore[return-value]

    async def list_accounts(self, query: AccountQuery) -> Page[AccountRow]:
        if query.owner or query.tier or query.phase or query.search or query.sort not in HEALTH_SORTS:
            return await listing.list_via_touch(self, query)
        params: dict[str, Any] = {"sort": HEALTH_SORTS[query.sort], "limit": query.limit + 1, "offset": query.offset}
        if query.band:
            params["band"] = query.band
        data = await self.health.read("/v1/accounts", params=params) or {"accounts": []}
        rows = [mapping.health_row(a) for a in data["accounts"]]
        more, rows = len(rows) > query.limit, rows[: query.limit]
        rows = await asyncio.gather(*(self._with_profile(row) for row in rows))
        return Page(await listing.with_activity(self, list(rows)), None, query.limit, query.offset, more=more)

    async def _with_profile(self, row: AccountRow) -> AccountRow:
        try:
            tier = await self.limited(self.tier(row.account_id))
        except BackendUnavailable:
            # touch down: this list is also the fallback the page shows (with a notice) when touch's listing is.
            return row
        if tier is None:
            return row
        return replace(
            row,
            name=tier.name or row.name,
            tier=tier.tier,
            phase=tier.phase,
            owner=tier.owner,
            renewal_date=tier.renewal_date,
        )

    async def score(self, account_id: str) -> ScoreDetail | None:
        data = await self.health.read(f"/v1/accounts/{_seg(account_id)}")
        return mapping.health_detail(data) if data else None

    async def history(self, account_id: str, *, since: datetime) -> list[ScorePoint]:
        data = await self.health.read(f"/v1/accounts/{_seg(account_id)}/history", params={"since": since.isoformat()})
        return mapping.history(data) if data else []

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
        expiry = {"expires_at": expires_at.isoformat()} if expires_at else {"expires_in_days": 30}
        for kind, value in (("band", band), ("score", score)):
            if value is not None:
                body = {"kind": kind, kind: value, "reason": reason, "set_by": by, **expiry}
                await self.health.change("PUT", f"/v1/accounts/{_seg(account_id)}/overrides", json=body)

    async def clear_override(self, account_id: str, *, by: str) -> None:
        detail = await self.score(account_id)
        if detail is None or detail.override is None:
            return
        for kind, value in (("score", detail.override.score), ("band", detail.override.band)):
            if value is not None:
                await self.health.change("DELETE", f"/v1/accounts/{_seg(account_id)}/overrides/{kind}")

    async def tier(self, account_id: str) -> TierInfo | None:
        data = await self.touch.read(f"/v1/accounts/{_seg(account_id)}")
        return mapping.tier(account_id, data) if data else None

    async def enrolments(self, account_id: str) -> list[Enrolment]:
        data = await self.touch.read(f"/v1/accounts/{_seg(account_id)}/enrolments")
        return [mapping.enrolment(e) for e in data or []]

    async def enrolment_action(self, enrolment_id: str, action: str, *, by: str) -> None:
        await self.touch.change("POST", f"/v1/enrolments/{_seg(enrolment_id)}/{action}", json={"by": by})

    async def enrol(self, account_id: str, playbook: str, *, by: str) -> None:
        await self.touch.change(
            "POST", f"/v1/accounts/{_seg(account_id)}/enrolments", json={"playbook": playbook, "by": by}
        )

    async def open_task(self, task: NewTask, *, by: str) -> str:
        body = {k: v for k, v in asdict(task).items() if v not in (None, "")}
        created = await self.notify.change("POST", "/v1/tasks", json=body)
        return str(created["id"])

    async def log_activity(self, account_id: str, activity: NewActivity, *, by: str) -> None:
        body = {**asdict(activity), "csm": by}
        await self.notify.change("POST", f"/v1/accounts/{_seg(account_id)}/activities", json=body)

    async def tasks(self, query: TaskQuery) -> Page[Task]:
        # notify filters one owner at a time and has no offset: ask for enough of each and merge.
        wanted = query.offset + query.limit + 1
        base: dict[str, Any] = {"limit": min(wanted, 1000)}
        for key, value in (("status", query.status), ("priority", query.priority), ("account_id", query.account_id)):
            if value:
                base[key] = value
        if query.overdue:
            base["overdue"] = "true"
        owners: list[str | None] = list(query.owners) or [None]
        answers = await asyncio.gather(
            *(self.notify.read("/v1/tasks", params={**base, **({"owner": o} if o else {})}) for o in owners)
        )
        tasks = [mapping.task(t) for a in answers for t in (a or {}).get("tasks", [])]
        rank = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
        far = datetime.max.replace(tzinfo=UTC)
        tasks.sort(key=lambda t: (rank.get(t.priority, 9), t.due_at or far, t.task_id))
        page = tasks[query.offset : query.offset + query.limit]
        return Page(page, None, query.limit, query.offset, more=len(tasks) > query.offset + query.limit)

    async def task_action(self, task_id: str, action: str, payload: dict[str, Any], *, by: str) -> None:
        path = f"/v1/tasks/{_seg(task_id)}/{action}"
        if action == "complete":
            reason = payload["close_reason"] + (f": {payload['note']}" if payload.get("note") else "")
            body: dict[str, Any] = {"reason": reason, "status": "completed"}
        elif action == "snooze":
            body = {"until": payload["until"].isoformat()}
        elif action == "comment":
            body = {"body": payload["text"], "author": by}
        else:
            body = {"owner": payload["owner"]}
        await self.notify.change("POST", path, json=body)

    async def timeline(self, account_id: str, *, limit: int) -> list[TimelineItem]:
        data = await self.notify.read(f"/v1/accounts/{_seg(account_id)}/timeline", params={"limit": limit})
        return [mapping.timeline_item(i) for i in (data or {}).get("items", [])]

    async def playbook_names(self) -> list[str]:
        data = await self.touch.read("/v1/playbooks")
        return sorted(str(p["name"]) for p in data or [])

    async def effectiveness(self, playbook: str, *, days: int | None) -> dict[str, Any] | None:
        params = {"days": days} if days is not None else None
        data = await self.touch.read(f"/v1/playbooks/{_seg(playbook)}/effectiveness", params=params)
        return dict(data) if data is not None else None

    async def portfolio(self, *, period: str, by: str, months: int) -> dict[str, Any]:
        data = await self.touch.read("/v1/portfolio", params={"period": period, "by": by, "months": months})
        if data is None:
            raise BackendUnavailable("touch", "GET /v1/portfolio: not found (an older touch?)")
        return dict(data)

    async def survey_answers(self, *, since: datetime) -> list[SurveyAnswer]:
        """Every feedback survey answer since ``since`` (NPS, satisfaction and exit, feature usefulness):
        the first page of each survey gives notify's total, the rest are read concurrently."""
        pages = await asyncio.gather(*(self._answers(survey, since=since) for survey in FEEDBACK_SURVEYS))
        return [a for page in pages for a in page]

    async def milestones(self, *, since: datetime, account_id: str | None = None) -> tuple[list[Milestone], int]:
        params: dict[str, Any] = {"since": since.isoformat(), "limit": 200}
        if account_id:
            params["account_id"] = account_id
        data = await self.notify.read("/v1/milestones", params=params)
        if data is None:
            raise BackendRefused("notify", 501, "milestones need notify's GET /v1/milestones")
        found = (mapping.milestone(m) for m in data.get("milestones", []))
        return [m for m in found if m is not None], int(data.get("window_days") or 0)

    async def add_milestone(
        self, *, kind: str, title: str, occurred_at: datetime, account_id: str | None, by: str
    ) -> None:
        body = {"kind": kind, "title": title, "occurred_at": occurred_at.isoformat(), "created_by": by}
        if account_id:
            body["account_id"] = account_id
        await self.notify.change("POST", "/v1/milestones", json=body)

    async def usage_around(self, *, at: datetime, days: int, account_id: str | None) -> UsageAround:
        params: dict[str, Any] = {"at": at.isoformat(), "days": days}
        if account_id:
            params["account_id"] = account_id
        data = await self.health.read("/v1/usage/around", params=params)
        if data is None:
            raise BackendRefused("health", 501, "usage around milestones needs health's GET /v1/usage/around")
        return UsageAround(
            before=data["before"]["mean"],
            after=data["after"]["mean"],
            accounts_before=int(data["before"]["accounts"]),
            accounts_after=int(data["after"]["accounts"]),
        )

    async def theme_subscriptions(self) -> list[ThemeSubscription]:
        data = await self.notify.read("/v1/theme-subscriptions")
        if data is None:
            raise BackendRefused("notify", 501, "routing needs notify's /v1/theme-subscriptions")
        return [
            ThemeSubscription(
                str(s["id"]), str(s["theme"]), str(s["team"]), str(s["kind"]), str(s["url"]), s.get("disabled")
            )
            for s in data.get("subscriptions", [])
        ]

    async def subscribe_theme(self, *, theme: str, team: str, kind: str, url: str) -> str | None:
        body = {"theme": theme, "team": team, "kind": kind, "url": url}
        created = await self.notify.change("POST", "/v1/theme-subscriptions", json=body)
        return (created or {}).get("secret")

    async def unsubscribe_theme(self, subscription_id: str) -> None:
        await self.notify.change("DELETE", f"/v1/theme-subscriptions/{_seg(subscription_id)}")

    async def _answers(self, survey: str, *, since: datetime) -> list[SurveyAnswer]:
        params: dict[str, Any] = {"survey": survey, "since": since.isoformat(), "limit": ANSWERS_PAGE}
        first = await self.notify.read("/v1/answers", params={**params, "offset": 0})
        if first is None:
            raise BackendRefused("notify", 501, "the feedback page needs notify's answer listing (GET /v1/answers)")
        total = min(int(first.get("total", 0)), ANSWERS_MAX)
        rest = await asyncio.gather(
            *(
                self.limited(self.notify.read("/v1/answers", params={**params, "offset": offset}))
                for offset in range(ANSWERS_PAGE, total, ANSWERS_PAGE)
            )
        )
        # An answer recorded between two page reads shifts the pages by one: drop the repeat it causes.
        listed = [a for page in (first, *rest) for a in (page or {}).get("answers", [])]
        unique = {(a.get("channel"), a["id"]) if a.get("id") else n: a for n, a in enumerate(listed)}
        answers = (mapping.survey_answer(a) for a in unique.values())
        return [a for a in answers if a is not None and a.survey == survey]

    async def scorecards(self) -> list[str]:
        data = await self.health.read("/v1/scorecards") or {"scorecards": []}
        return [c["name"] for c in data["scorecards"]]

    async def trust(self) -> TrustReport:
        return weights.trust_report(await self.health.read("/v1/trust") or {})

    async def weights_comparison(self, scorecard: str) -> WeightsComparison | None:
        path = f"/v1/scorecards/{_seg(scorecard)}/learned-weights"
        data = await self.health.read(path, timeout=LEARN_TIMEOUT_S)
        return weights.comparison(data) if data else None

    async def weights_proposal(self, scorecard: str) -> str | None:
        path = f"/v1/scorecards/{_seg(scorecard)}/learned-weights/proposal.yaml"
        response = await self.health.call("GET", path, timeout=LEARN_TIMEOUT_S)
        if response.status_code == 404:
            return None
        self.health._raise_for(response)
        return response.text

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Every service's audit entries matching ``query``, merged newest first."""
        params: dict[str, Any] = {"limit": query.limit}
        for key, value in (("actor", query.actor), ("account_id", query.account_id), ("action", query.action)):
            if value:
                params[key] = value
        for key, when in (("since", query.since), ("until", query.until)):
            if when:
                params[key] = when.isoformat()
        answers = await asyncio.gather(
            *(service.read("/v1/audit", params=params) for service in (self.health, self.touch, self.notify))
        )
        entries = [mapping.audit_entry(e) for a in answers for e in (a or {}).get("entries", [])]
        entries.sort(key=lambda e: e.at, reverse=True)
        return entries[: query.limit]

    async def validate(self, kind: str, text: str) -> list[str]:
        if kind == "playbook":
            answer = await self.touch.change("POST", "/v1/playbooks/validate", yaml=text)
        else:
            answer = await self.health.change("POST", "/v1/scorecards/validate", yaml=text)
        return [str(p) for p in (answer or {}).get("problems", [])]


def _seg(value: str) -> str:
    """A path segment: an id with '/' or '?' must not reach another route."""
    return quote(value, safe="")
