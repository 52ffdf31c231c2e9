"""What to do with an email command nobody can receive yet: wait for its contacts, or give up.

Contacts (identify/group on `events`) and commands (`commands`) travel different topics, so a
command can be handled before the contact it addresses is known. It waits, parked, until a
recipient becomes known or its deadline passes; only then is it reported as failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Deliver:
    """Someone can receive it now."""


@dataclass(frozen=True)
class Park:
    until: datetime


@dataclass(frozen=True)
class GiveUp:
    detail: str


Settlement = Deliver | Park | GiveUp


def settle(*, has_recipients: bool, role: str, now: datetime, deadline: datetime | None, wait: timedelta) -> Settlement:
    """``deadline`` is None the first time the command is seen (its wait starts now), else the parked one's.

    A wait of zero gives up at once, as notify did before commands could wait.
    """
    if has_recipients:
        return Deliver()
    until = now + wait if deadline is None else deadline
    if now >= until:
        # Seen for the first time with a zero wait: nothing was waited for.
        waited = "" if deadline is None else f" (waited until {until.isoformat()})"
        return GiveUp(f"no recipient with an email address for role {role}{waited}")
    return Park(until=until)
