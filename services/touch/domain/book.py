"""What touch records of an account's book of business for the portfolio view: its ARR, its CSM
owner and whether it is churned, each as a fact when it changes. Pure.

The tier's changes are already kept (touch.tier_history) and health bands arrive as ``band``
facts, so these three are all the portfolio needs beyond what was stored before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .changes import Fact
from .tiers import Profile

ARR, OWNER, CHURNED = "arr", "owner", "churned"
BOOK_FACTS = (ARR, OWNER, CHURNED)


def _number(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def arr_of(profile: Profile) -> float | None:
    """Annual recurring revenue: the ``arr`` trait, else ``mrr`` x 12; None when neither is a number.
    (Unlike the tier's yearly value, a lifetime value is no recurring revenue.)"""
    arr = _number(profile.traits.get("arr"))
    if arr is not None:
        return arr
    mrr = _number(profile.traits.get("mrr"))
    return mrr * 12 if mrr is not None else None


def owner_of(profile: Profile) -> str | None:
    raw = profile.traits.get("csm_owner")
    return raw.strip() or None if isinstance(raw, str) else None


def book_facts(before: Profile | None, after: Profile, *, at: datetime) -> list[Fact]:
    """The facts of what changed between two states of an account's profile; a new account
    (``before`` None) records its ARR and owner when it has them."""
    facts = []
    arr = arr_of(after)
    if arr != (arr_of(before) if before is not None else None):
        facts.append(Fact(ARR, at, value=arr))
    owner = owner_of(after)
    if owner != (owner_of(before) if before is not None else None):
        facts.append(Fact(OWNER, at, label=owner))
    if after.churned != (before.churned if before is not None else False):
        facts.append(Fact(CHURNED, at, value=1.0 if after.churned else 0.0))
    return facts
