"""Outcome messages with deterministic ids, so a republished fact is recognisably the same fact."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from touchline.shared.messages import Outcome


def outcome_for(
    source: Mapping[str, Any],
    *,
    kind: str,
    occurrence: str,
    now: datetime,
    detail: str = "",
    answer: dict[str, Any] | None = None,
    machine: bool = False,
) -> Outcome:
    """An outcome about a delivery, in-app message or task row; ``occurrence`` makes the id unique."""
    return Outcome(
        outcome_id=f"notify:{source['id']}:{occurrence}",
        account_id=str(source["account_id"]),
        kind=kind,  # type: ignore[arg-type]
        command_id=source.get("command_id"),
        enrolment_id=source.get("enrolment_id"),
        playbook=source.get("playbook"),
        step=source.get("step"),
        template=source.get("template"),
        user_id=source.get("user_id"),
        answer=answer,
        machine=machine,
        detail=detail,
        occurred_at=now,
    )
