"""A segment: the accounts one-to-many touch (webinars, newsletters) is for, by current tier and phase. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """Accounts whose current tier and phase are listed; an empty list means any."""

    tiers: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()

    def matches(self, *, tier: str | None, phase: str | None) -> bool:
        return (not self.tiers or tier in self.tiers) and (not self.phases or phase in self.phases)
