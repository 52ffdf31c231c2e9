"""The services' JSON answers mapped onto the console's read models (pure functions).

Each function reads the field names the owning service's API uses today (health/api.py,
touch/api.py, notify/api/tasks.py) and tolerates absent optional fields, so a service adding
fields breaks nothing here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from .models import (
    AccountRow,
    AuditEntry,
    Contribution,
    Enrolment,
    Milestone,
    Override,
    ScoreDetail,
    ScorePoint,
    StepRecord,
    SurveyAnswer,
    Task,
    TierInfo,
    TimelineItem,
)


def when(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def day(raw: Any) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def _json_list(raw: Any) -> list[Any]:
    """jsonb columns arrive decoded or as text depending on the driver's codecs."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    return list(raw or [])


def health_row(data: dict[str, Any]) -> AccountRow:
    return AccountRow(
        account_id=str(data["account_id"]),
        name=str(data.get("name") or data["account_id"]),
        score=data.get("score"),
        band=data.get("band"),
        overridden=bool(data.get("overridden")),
        usage_trend=data.get("usage_trend"),
        days_since_login=data.get("days_since_login"),
    )


def overrides(raw: Any) -> Override | None:
    """Health keeps one override per kind (score, band, measure); the console shows score and band as one."""
    items = [o for o in _json_list(raw) if o.get("kind") in ("score", "band")]
    if not items:
        return None
    expiries = [e for e in (when(o.get("expires_at")) for o in items) if e is not None]
    return Override(
        score=next((o.get("score") for o in items if o["kind"] == "score"), None),
        band=next((o.get("band") for o in items if o["kind"] == "band"), None),
        reason=" / ".join(str(o.get("reason", "")) for o in items),
        expires_at=min(expiries) if expiries else None,
        by=", ".join(sorted({str(o.get("set_by")) for o in items if o.get("set_by")})) or None,
    )


def health_detail(data: dict[str, Any]) -> ScoreDetail:
    override = overrides(data.get("overrides"))
    return ScoreDetail(
        account_id=str(data["account_id"]),
        name=str(data.get("name") or data["account_id"]),
        score=data.get("score"),
        band=data.get("band"),
        computed_at=when(data.get("as_of") or data.get("updated_at")),
        contributions=[
            Contribution(
                measure=str(m["measure"]),
                label=str(m.get("label") or m["measure"]),
                group=str(m.get("group", "other")),
                value=m.get("value"),
                score=m.get("score"),
                weight=float(m.get("weight") or 0.0),
                contribution=float(m.get("contribution") or 0.0),
                missing=bool(m.get("missing")),
            )
            for m in _json_list(data.get("measures"))
        ],
        reasons=[str(r) for r in _json_list(data.get("explanation") or data.get("reasons"))],
        override=override,
        computed_score=data.get("computed_score") if override else None,
        usage_trend=data.get("usage_trend"),
        days_since_login=data.get("days_since_login"),
    )


def history(data: dict[str, Any]) -> list[ScorePoint]:
    points = [
        ScorePoint(at=at, score=float(h["score"]), band=h.get("band"))
        for h in data.get("history", [])
        if h.get("score") is not None and (at := when(h.get("computed_at"))) is not None
    ]
    return sorted(points, key=lambda p: p.at)


def tier(account_id: str, data: dict[str, Any]) -> TierInfo:
    """touch's account profile (traits + nested tier) or its flat tier answer."""
    traits = data.get("traits") or {}
    assigned = data["tier"] if isinstance(data.get("tier"), dict) else data if data.get("tier") else {}
    return TierInfo(
        account_id=account_id,
        tier=assigned.get("tier"),
        reason=str(assigned.get("reason") or ""),
        phase=assigned.get("phase"),
        owner=data.get("owner") or traits.get("csm_owner"),
        renewal_date=day(data.get("renewal_date") or traits.get("renewal_date")),
        name=data.get("name") or traits.get("name"),
    )


def enrolment(data: dict[str, Any]) -> Enrolment:
    return Enrolment(
        enrolment_id=str(data["id"]),
        playbook=str(data.get("playbook", "")),
        status=str(data.get("status", "")),
        current_step=data.get("step"),
        started_at=when(data.get("enrolled_at")),
        steps=[
            StepRecord(
                step=str(h.get("step") or ""),
                status=str(h.get("event") or ""),
                at=when(h.get("at")),
                detail=str(h.get("detail") or ""),
            )
            for h in data.get("history") or []
        ],
    )


def task(data: dict[str, Any]) -> Task:
    return Task(
        task_id=str(data["id"]),
        account_id=str(data["account_id"]),
        subject=str(data.get("subject", "")),
        type=str(data.get("type", "")),
        reason=str(data.get("reason", "")),
        priority=str(data.get("priority", "medium")),
        status=str(data.get("status", "")),
        owner=data.get("owner"),
        due_at=when(data.get("due_at")),
        created_at=when(data.get("created_at")),
        snoozed_until=when(data.get("snoozed_until")),
        body=str(data.get("body") or ""),
        comments=[
            (str(c.get("author") or ""), str(c.get("body", "")), when(c.get("created_at")))
            for c in data.get("comments") or []
        ],
    )


def _answer_text(raw: Any) -> str:
    if not raw:
        return ""
    answer = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(answer, dict):
        return str(answer)
    parts = [f"{k}: {v}" for k, v in answer.items() if k != "survey" and v not in (None, "", [])]
    return f"{answer.get('survey', '')} — " + ", ".join(parts) if parts else str(answer.get("survey", ""))


def timeline_item(data: dict[str, Any]) -> TimelineItem:
    # "channel" names the item; older notify answers only had "type", which a task row's own type hides.
    kind, at = data.get("channel") or data.get("type"), when(data.get("at"))
    if "priority" in data and "due_at" in data:
        kind = "task"
    assert at is not None
    if kind == "milestone":
        scope = "" if data.get("account_id") else "all accounts"
        return TimelineItem(at, f"milestone.{data.get('kind') or 'other'}", str(data.get("title") or ""), scope)
    if kind == "email":
        state = (
            "answered"
            if data.get("answered_at")
            else "clicked"
            if data.get("clicked_at")
            else "opened"
            if data.get("opened_at")
            else ("failed" if data.get("state") == "failed" else "sent")
        )
        return TimelineItem(
            at,
            f"email.{state}",
            str(data.get("subject") or data.get("template") or ""),
            _answer_text(data.get("answer")),
        )
    if kind == "in_app":
        state = (
            "answered"
            if data.get("answered_at")
            else "dismissed"
            if data.get("dismissed_at")
            else "seen"
            if data.get("seen_at")
            else "shown"
        )
        return TimelineItem(
            at, f"inapp.{state}", str(data.get("title") or data.get("template") or ""), _answer_text(data.get("answer"))
        )
    if kind == "activity":
        reached = "reached" if data.get("contact_counted") else "not_reached"
        rating = data.get("relationship")
        detail = f"{data.get('contact') or ''}{f' · {rating}/5' if rating else ''}".strip(" ·")
        return TimelineItem(at, f"activity.{data.get('kind')}.{reached}", str(data.get("outcome") or ""), detail)
    if kind == "task":
        state = "completed" if data.get("status") in ("completed", "closed") else "opened"
        detail = str(data.get("close_reason") or "")
        return TimelineItem(at, f"task.{state}", str(data.get("subject") or data.get("type") or ""), detail)
    return TimelineItem(at, f"event.{data.get('semantic') or 'other'}", str(data.get("event") or kind or ""), "")


def milestone(data: dict[str, Any]) -> Milestone | None:
    at = when(data.get("occurred_at"))
    if at is None:
        return None
    nps = data.get("nps") or {}
    return Milestone(
        id=str(data["id"]),
        kind=str(data.get("kind") or ""),
        title=str(data.get("title") or ""),
        occurred_at=at,
        account_id=data.get("account_id"),
        source=str(data.get("source") or ""),
        nps_before=nps.get("before"),
        nps_after=nps.get("after"),
        answers_before=int(nps.get("answers_before") or 0),
        answers_after=int(nps.get("answers_after") or 0),
    )


def survey_answer(data: dict[str, Any]) -> SurveyAnswer | None:
    """One answer of notify's GET /v1/answers; None when it is not usable feedback (no survey, no time)."""
    answer = data.get("answer") or {}
    if isinstance(answer, str):
        answer = json.loads(answer)
    survey, score = answer.get("survey"), answer.get("score")
    at = when(data.get("at") or data.get("answered_at") or data.get("occurred_at"))
    if not isinstance(survey, str) or at is None:
        return None
    if survey == "nps" and not isinstance(score, int):
        return None  # a comment without its score says nothing about NPS groups
    features = answer.get("features")
    return SurveyAnswer(
        account_id=str(data["account_id"]),
        at=at,
        score=score if isinstance(score, int) and not isinstance(score, bool) else None,
        comment=str(answer.get("comment") or ""),
        user_id=data.get("user_id"),
        survey=survey,
        template=str(data.get("template") or ""),
        features=tuple(str(f) for f in features) if isinstance(features, list) else (),
    )


def touch_listing_row(data: dict[str, Any]) -> AccountRow:
    """One row of touch's GET /v1/accounts (no score yet: health's is joined by account id)."""
    return AccountRow(
        account_id=str(data["account_id"]),
        name=str(data.get("name") or data["account_id"]),
        score=None,
        band=None,
        tier=data.get("tier"),
        phase=data.get("phase"),
        owner=data.get("owner"),
        renewal_date=day(data.get("renewal_date")),
    )


def with_health(row: AccountRow, data: dict[str, Any] | None) -> AccountRow:
    """A touch row with health's score, band, override flag and usage from its account summary."""
    if not data:
        return row
    return replace(
        row,
        score=data.get("score"),
        band=data.get("band"),
        overridden=bool(data.get("overridden")),
        usage_trend=data.get("usage_trend"),
        days_since_login=data.get("days_since_login"),
    )


def audit_entry(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        service=str(data.get("service", "")),
        at=when(data["at"]),  # type: ignore[arg-type]
        actor=str(data.get("actor", "")),
        action=str(data.get("action", "")),
        method=str(data.get("method", "")),
        route=str(data.get("route", "")),
        account_id=data.get("account_id"),
        status=int(data.get("status", 0)),
        body=data.get("body"),
        before=data.get("before"),
        after=data.get("after"),
        token=str(data.get("token", "")),
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
    )
