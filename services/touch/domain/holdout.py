"""Who is held out of a playbook, to measure it against accounts that did not get it. Pure.

An eligible account is held out when a hash of (account, playbook, period) falls below the
playbook's holdout share: the same account, playbook and period always give the same answer,
whichever replica or replay decides it. The period is the UTC calendar quarter of the trigger
(``2027-Q1``): an account triggered again within the quarter keeps its assignment, and each
quarter draws anew, so no account is withheld a playbook for ever.

Never held out: high-touch accounts (a CSM owns them; withholding their attention to measure it
is not a price worth paying), enrolments by hand (a person chose to enrol them), and playbooks or
variants whose holdout is ``never`` (churn's exit survey, for example).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from .playbook import HoldoutShare

NEVER_TIERS = ("high",)


def period_of(at: datetime) -> str:
    """The assignment period of a trigger at ``at``: its UTC calendar quarter."""
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


def draw(account_id: str, playbook: str, period: str) -> float:
    """A uniform number in [0, 1) fixed by account, playbook and period."""
    digest = hashlib.sha256(f"holdout|{account_id}|{playbook}|{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Assignment:
    held_out: bool
    reason: str


def assign(
    *, account_id: str, playbook: str, tier: str, share: HoldoutShare, at: datetime, manual: bool = False
) -> Assignment:
    """Enrolled or held out, with the reason a person reads on the account's timeline."""
    if manual:
        return Assignment(False, "enrolled by hand: never held out")
    if share == "never" or share == 0:
        return Assignment(False, "no holdout" if share == 0 else "holdout: never")
    if tier in NEVER_TIERS:
        return Assignment(False, f"{tier} touch: never held out")
    period = period_of(at)
    value = draw(account_id, playbook, period)
    if value < share:
        return Assignment(True, f"held out ({share:.0%} holdout, period {period}): receives nothing from {playbook}")
    return Assignment(False, f"enrolled ({share:.0%} holdout, period {period})")
