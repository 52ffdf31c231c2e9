"""Band and tier changes as webhook commands for notify, so a CRM can keep a health field in step.

touch is where both are known (it reads every health score and decides the tier); notify owns the
endpoints and signs and retries the posts. So touch says *what* changed, as a ``webhook`` command
whose ``template`` is the event type, and notify turns it into one Standard Webhooks delivery per
configured endpoint. Pure: the command id derives from what caused the change, so a redelivered
input makes the same id, which notify's deliveries deduplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from touchline.shared.messages import Command, Recipients

BAND_CHANGED = "account.band_changed"
TIER_CHANGED = "account.tier_changed"
EVENT_TYPES = (BAND_CHANGED, TIER_CHANGED)


def band_changed(
    *, account_id: str, cause: str, band: str, previous: str | None, score: float | None, at: datetime
) -> Command:
    data = {"account_id": account_id, "band": band, "previous_band": previous, "score": score, "changed_at": at}
    return _command(BAND_CHANGED, account_id=account_id, cause=cause, data=data, at=at)


def tier_changed(*, account_id: str, tier: str, previous: str | None, phase: str, reason: str, at: datetime) -> Command:
    data = {
        "account_id": account_id,
        "tier": tier,
        "previous_tier": previous,
        "phase": phase,
        "reason": reason,
        "changed_at": at,
    }
    return _command(TIER_CHANGED, account_id=account_id, cause=f"{tier}:{at.isoformat()}", data=data, at=at)


def _command(kind: str, *, account_id: str, cause: str, data: Mapping[str, object], at: datetime) -> Command:
    command_id = f"crm:{kind}:{account_id}:{cause}"
    return Command(
        command_id=command_id,
        account_id=account_id,
        channel="webhook",
        template=kind,
        recipients=Recipients(role="contacts"),
        variables={k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()},
        dedup_key=command_id,
        issued_at=at,
    )
