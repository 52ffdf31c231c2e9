"""Decisions of the engine -> Command messages for notify."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from touchline.shared.messages import Command, Recipients, TaskSpec

from .domain.engine import Enrolment, OpenTask, Send
from .domain.playbook import Playbook


def command_for(
    playbook: Playbook, e: Enrolment, d: Send | OpenTask, *, traits: Mapping[str, object], at: datetime
) -> Command:
    variables = {k: traits[k] for k in ("name", "plan", "renewal_date", "csm_owner", "locale") if k in traits}
    variables |= {"tier": e.tier, "playbook": playbook.name}
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
            recipients=Recipients(role=d.to),  # type: ignore[arg-type]
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
