"""AccountState <-> a compact JSON-able dict (what the adapter stores as jsonb)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .aggregates import AccountState, Latest

VERSION = 1


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _latest(value: Latest | None) -> list[Any] | None:
    return [value.value, value.at.isoformat(), value.id] if value else None


def _plat(value: list[Any] | None) -> Latest | None:
    return Latest(value=float(value[0]), at=datetime.fromisoformat(value[1]), id=str(value[2])) if value else None


def state_to_dict(state: AccountState) -> dict[str, Any]:
    return {
        "v": VERSION,
        "as_of": _t(state.as_of),
        "first_day": state.first_day,
        "traits": state.traits,
        "users": state.users,
        "features": state.features,
        "login_days": sorted(state.login_days),
        # Day-keyed maps as [day, n] pairs: JSON object keys would be strings to convert back.
        "usage": list(state.usage.items()),
        "tickets": list(state.tickets.items()),
        "tickets_seen": state.tickets_seen,
        "last_login": _t(state.last_login),
        "last_contact": _t(state.last_contact),
        "nps": _latest(state.nps),
        "roi": _latest(state.roi),
        "relationship": _latest(state.relationship),
        "band": state.band,
        "pruned_day": state.pruned_day,
        "daily_scores": list(state.daily_scores.items()),
    }


def state_from_dict(account_id: str, data: dict[str, Any]) -> AccountState:
    return AccountState(
        account_id=account_id,
        as_of=_pt(data.get("as_of")),
        first_day=data.get("first_day"),
        traits=dict(data.get("traits") or {}),
        users=dict(data.get("users") or {}),
        features=dict(data.get("features") or {}),
        login_days=set(data.get("login_days") or ()),
        usage=dict(data.get("usage") or ()),
        tickets=dict(data.get("tickets") or ()),
        tickets_seen=bool(data.get("tickets_seen")),
        last_login=_pt(data.get("last_login")),
        last_contact=_pt(data.get("last_contact")),
        nps=_plat(data.get("nps")),
        roi=_plat(data.get("roi")),
        relationship=_plat(data.get("relationship")),
        band=data.get("band"),
        pruned_day=data.get("pruned_day"),
        daily_scores=dict(data.get("daily_scores") or ()),
    )
