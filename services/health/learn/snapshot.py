"""One training example as read from the score history (no numpy: the health service imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Snapshot:
    """What an account measured ``days_before`` days before one of its outcomes."""

    account_id: str
    churned: bool  # cancelled = True, renewed = False
    outcome_at: datetime
    days_before: int
    values: dict[str, float | None]  # raw measure values as stored in the score history
