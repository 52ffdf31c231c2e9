"""The audit trail of user changes: ``touchline console adduser`` appends one JSON line per change
next to the users file (``<users file>.audit.jsonl``, mode 0600) with who ran it, when, and the
user before and after (never the password hash). The audit page shows these beside the services'
entries. The users file is configuration on the console's host, so its history lives there too."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .auth import User
from .models import AuditEntry, AuditQuery

SHOWN = ("name", "locale", "team", "role")


def log_path(users_file: Path) -> Path:
    return users_file.with_name(users_file.name + ".audit.jsonl")


def _view(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    fields = asdict(user)
    return {k: fields[k] for k in SHOWN} | {"password_changed": True}


def record(users_file: Path, *, actor: str, at: datetime, before: User | None, after: User) -> None:
    entry = {
        "at": at.isoformat(),
        "actor": actor,
        "action": "console.adduser" if before is None else "console.change_user",
        "user": after.email,
        "before": _view(before),
        "after": _view(after),
    }
    if entry["before"] is not None:
        entry["before"].pop("password_changed")  # type: ignore[union-attr]
    path = log_path(users_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read(users_file: Path) -> list[AuditEntry]:
    """Every recorded change; a line that is not an entry (hand-edited, cut short) is skipped."""
    path = log_path(users_file)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(_entry(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def _entry(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        service="console",
        at=datetime.fromisoformat(data["at"]),
        actor=str(data["actor"]),
        action=str(data["action"]),
        method="CLI",
        route="touchline console adduser",
        account_id=None,
        status=0,
        body={"user": data.get("user")},
        before=data.get("before"),
        after=data.get("after"),
    )


def matching(entries: list[AuditEntry], query: AuditQuery) -> list[AuditEntry]:
    """The entries ``query`` selects, newest first (the services filter theirs the same way)."""
    found = [
        e
        for e in entries
        if (not query.actor or e.actor == query.actor)
        and (not query.account_id or e.account_id == query.account_id)
        and (not query.action or query.action in e.action)
        and (not query.since or e.at >= query.since)
        and (not query.until or e.at < query.until)
    ]
    return sorted(found, key=lambda e: e.at, reverse=True)[: query.limit]
