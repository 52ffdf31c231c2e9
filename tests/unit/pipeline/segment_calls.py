"""The Segment calls a product sends, as plain documents for Pipeline.send (the HTTP API's JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def group(user_id: str, account_id: str, *, at: datetime, **traits: Any) -> dict[str, Any]:
    """The user belongs to the account; the account's traits (plan, arr, renewal_date, signed_at ...)."""
    return {"type": "group", "userId": user_id, "groupId": account_id, "timestamp": at.isoformat(), "traits": traits}


def identify(user_id: str, *, at: datetime, **traits: Any) -> dict[str, Any]:
    """The user's traits (email, name, role, locale ...)."""
    return {"type": "identify", "userId": user_id, "timestamp": at.isoformat(), "traits": traits}


def track(
    user_id: str, event: str, *, at: datetime, message_id: str | None = None, **properties: Any
) -> dict[str, Any]:
    call = {"type": "track", "userId": user_id, "event": event, "timestamp": at.isoformat(), "properties": properties}
    if message_id is not None:
        call["messageId"] = message_id
    return call
