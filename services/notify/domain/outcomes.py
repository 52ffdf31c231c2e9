"""Outcome messages with deterministic ids, so a republished fact is recognisably the same fact."""

from __future__ import annotations

import hashlib
import json
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


def answer_digest(answer: dict[str, Any]) -> str:
    """Short stable id part for an answer: the same answer twice is one outcome, a changed one is new."""
    return hashlib.sha256(json.dumps(answer, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
