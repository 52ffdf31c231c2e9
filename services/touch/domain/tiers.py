"""Segmentation: an account's touch tier (high / low / tech) from its value and lifecycle phase.

Rules are data (config/tiers.yaml), tried in order; the first that matches decides, and the
assignment carries a sentence saying why. The last rule must match everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .playbook import Tier

Phase = Literal["onboarding", "adoption", "retention", "renewal", "churned"]
PHASES: tuple[str, ...] = ("onboarding", "adoption", "retention", "renewal", "churned")


class TierRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    tier: Tier
    phases: tuple[Phase, ...] = ()  # empty = any phase
    min_value: float | None = None  # yearly value (ARR, else MRR x 12, else LTV)
    max_value: float | None = None


class TierRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    renewal_window_days: int = Field(120, ge=0)
    onboarding_days: int = Field(60, ge=0)
    rules: tuple[TierRule, ...]

    @model_validator(mode="after")
    def _catch_all_last(self) -> TierRules:
        if not self.rules:
            raise ValueError("rules: at least one rule")
        last = self.rules[-1]
        if last.phases or last.min_value is not None or last.max_value is not None:
            raise ValueError(
                f"rules: the last rule ({last.name}) must have no conditions, so every account gets a tier"
            )
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rules: rule names must be unique")
        return self


@dataclass(frozen=True)
class Profile:
    """What touch knows about an account, from group traits and lifecycle events."""

    account_id: str
    traits: dict[str, Any]
    first_seen_at: datetime
    churned: bool = False
    last_csm_contact_at: datetime | None = None

    def value(self) -> tuple[float | None, str]:
        """Yearly value and where it came from."""
        for key, factor in (("arr", 1.0), ("mrr", 12.0), ("ltv", 1.0)):
            raw = self.traits.get(key)
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return float(raw) * factor, key.upper()
        return None, "no value"

    def date(self, attribute: str) -> datetime | None:
        if attribute == "first_seen_at":
            return self.first_seen_at
        if attribute == "last_csm_contact_at":
            return self.last_csm_contact_at or self.first_seen_at
        return parse_when(self.traits.get(attribute))


def parse_when(raw: Any) -> datetime | None:
    """An ISO date or datetime trait as an aware datetime (dates at midnight UTC); junk -> None."""
    from datetime import UTC

    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def phase_of(profile: Profile, *, rules: TierRules, now: datetime) -> Phase:
    stage = str(profile.traits.get("lifecycle_stage") or "")
    if profile.churned or stage == "churned":
        return "churned"
    renewal = profile.date("renewal_date")
    if renewal is not None and 0 <= (renewal - now).total_seconds() <= rules.renewal_window_days * 86400:
        return "renewal"
    if stage in ("onboarding", "adoption", "retention"):
        return stage  # type: ignore[return-value]
    signed = profile.date("signed_at") or profile.first_seen_at
    return "onboarding" if (now - signed).days < rules.onboarding_days else "adoption"


@dataclass(frozen=True)
class TierAssignment:
    tier: Tier
    rule: str
    phase: Phase
    value: float | None
    reason: str


@dataclass(frozen=True)
class StoredTier:
    """The tier last saved for an account (what a new assignment is compared with)."""

    tier: str
    rule: str
    phase: str
    value: float | None
    reason: str
    at: datetime


def assign_tier(profile: Profile, *, rules: TierRules, now: datetime) -> TierAssignment:
    phase = phase_of(profile, rules=rules, now=now)
    value, source = profile.value()
    for rule in rules.rules:
        if rule.phases and phase not in rule.phases:
            continue
        if rule.min_value is not None and (value is None or value < rule.min_value):
            continue
        if rule.max_value is not None and (value is None or value > rule.max_value):
            continue
        return TierAssignment(
            tier=rule.tier, rule=rule.name, phase=phase, value=value, reason=_reason(rule, phase, value, source)
        )
    raise AssertionError("the validated rules end with a catch-all")


def _reason(rule: TierRule, phase: str, value: float | None, source: str) -> str:
    shown = f"{source} {value:,.0f}" if value is not None else "no ARR/MRR/LTV known"
    conditions = []
    if rule.phases:
        conditions.append(f"phase {phase} in {'/'.join(rule.phases)}")
    if rule.min_value is not None:
        conditions.append(f"{shown} >= {rule.min_value:,.0f}")
    if rule.max_value is not None:
        conditions.append(f"{shown} <= {rule.max_value:,.0f}")
    why = " and ".join(conditions) if conditions else f"no earlier rule matched ({shown}, phase {phase})"
    return f"{rule.tier} touch by rule {rule.name}: {why}"
