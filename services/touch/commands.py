"""Decisions of the engine -> Command messages for notify."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from touchline.shared.messages import Command, Recipients, TaskSpec

from .domain.activity import Activity, offered_features
from .domain.engine import Enrolment, OpenTask, Send
from .domain.playbook import Playbook, Step


def step_of(playbook: Playbook, e: Enrolment, step_id: str) -> Step | None:
    return next((s for s in playbook.steps_of(e.variant) if s.id == step_id), None)


def recipients_of(to: str, e: Enrolment) -> Recipients:
    """``answerer`` is the author of the run's latest answer; unknown (an answer without a user) -> admins."""
    if to != "answerer":
        return Recipients(role=to)  # type: ignore[arg-type]
    latest = list(e.answers.values())[-1] if e.answers else {}
    author = latest.get("answered_by")
    if isinstance(author, str) and author:
        return Recipients(role="user", user_ids=[author])
    return Recipients(role="admins")


def command_for(
    playbook: Playbook,
    e: Enrolment,
    d: Send | OpenTask,
    *,
    traits: Mapping[str, object],
    at: datetime,
    activity: Activity | None = None,
) -> Command:
    variables = {k: traits[k] for k in ("name", "plan", "renewal_date", "csm_owner", "locale") if k in traits}
    variables |= {"tier": e.tier, "playbook": playbook.name}
    step = step_of(playbook, e, d.step) if isinstance(d, Send) else None
    if step is not None and step.offer_features:
        variables["features"] = offered_features(activity or Activity(), since=e.enrolled_at)
    if step is not None and step.offer is not None:
        offer = step.offer.choose(tier=e.tier, answer=e.answers.get(step.offer.survey))
        variables["offer"] = offer.model_dump() if offer is not None else None
    common = {
        "command_id": d.command_id,
        "account_id": e.account_id,
        "variables": variables,
        "enrolment_id": e.id,
        "playbook": playbook.name,
        "step": d.step,
        "issued_at": at,
    }
    if isinstance(d, Send):
        return Command(
            channel=d.channel,  # type: ignore[arg-type]
            template=d.template,
            recipients=recipients_of(d.to, e),
            dedup_key=d.command_id,
            **common,  # type: ignore[arg-type]
        )
    task = TaskSpec(
        type=d.task_type,
        reason=d.reason,
        subject=d.subject,
        priority=d.priority,  # type: ignore[arg-type]
        due_at=d.due_at,
        body=f"Playbook {playbook.name} ({e.tier} touch), step {d.step}.",
    )
    return Command(
        channel="task",
        task=task,
        recipients=Recipients(role="csm_owner"),
        dedup_key=f"{e.account_id}:{d.task_type}:{d.reason}",
        **common,  # type: ignore[arg-type]
    )
