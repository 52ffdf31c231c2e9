"""What the consumed messages mean to touch: profile changes and signals. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from touchline.shared.messages import HealthScored, Outcome, ProductEvent

from .engine import Signal
from .tiers import Profile

BAND_RANK = {"action_required": 0, "caution": 1, "healthy": 2, "good": 3}
PROFILE_TRAITS = (
    "name",
    "plan",
    "arr",
    "mrr",
    "ltv",
    "seats",
    "renewal_date",
    "csm_owner",
    "lifecycle_stage",
    "locale",
    "signed_at",
)


@dataclass(frozen=True)
class SignalThresholds:
    decline: float = 0.3  # usage_trend <= -decline -> usage_declined
    recovered: float = -0.1  # usage_trend >= recovered -> usage_improved
    inactive_days: float = 14.0  # days_since_login >= this -> usage_declined


@dataclass(frozen=True)
class Input:
    """One thing to apply to an account: a signal (maybe aimed at one enrolment) and/or new traits."""

    source_id: str
    at: datetime
    signal: Signal | None = None
    enrolment_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    csm_contact: bool = False


def from_event(event: ProductEvent) -> list[Input]:
    traits = {k: v for k, v in event.traits.items() if k in PROFILE_TRAITS} if event.kind == "group" else {}
    signal = None
    if event.semantic != "other":
        signal = Signal(event.semantic, event.timestamp)
    if not traits and signal is None:
        return []
    return [Input(source_id=event.message_id, at=event.timestamp, signal=signal, traits=traits)]


def from_health(scored: HealthScored, *, thresholds: SignalThresholds) -> list[Input]:
    names: list[str] = []
    now, before = BAND_RANK[scored.band], BAND_RANK.get(scored.previous_band or "", None)
    if before is not None and now < before and now <= BAND_RANK["caution"]:
        names.append("band_dropped")
    if before is not None and now > before and before <= BAND_RANK["caution"] and now >= BAND_RANK["healthy"]:
        names.append("band_recovered")
    trend, idle = scored.usage_trend, scored.days_since_login
    if (trend is not None and trend <= -thresholds.decline) or (idle is not None and idle >= thresholds.inactive_days):
        names.append("usage_declined")
    elif trend is not None and trend >= thresholds.recovered:
        names.append("usage_improved")
    at = scored.computed_at
    return [Input(source_id=f"{scored.score_id}:{n}", at=at, signal=Signal(n, at)) for n in names]


def from_outcome(outcome: Outcome) -> list[Input]:
    signal = Signal(outcome.kind, outcome.occurred_at, answer=outcome.answer, template=outcome.template)
    return [
        Input(
            source_id=outcome.outcome_id,
            at=outcome.occurred_at,
            signal=signal,
            enrolment_id=outcome.enrolment_id,
            csm_contact=outcome.kind == "task.completed",
        )
    ]


def apply_input(profile: Profile | None, item: Input, *, account_id: str, at: datetime) -> Profile:
    """The profile after this input: traits merged, churn and CSM contact noted."""
    base = profile or Profile(account_id=account_id, traits={}, first_seen_at=at)
    traits = {**base.traits, **item.traits} if item.traits else base.traits
    name = item.signal.name if item.signal else None
    churned = base.churned
    if name == "cancelled" or traits.get("lifecycle_stage") == "churned":
        churned = True
    elif name in ("renewed", "signed"):
        churned = False
    contact = base.last_csm_contact_at
    if item.csm_contact and (contact is None or at > contact):
        contact = at
    return replace(base, traits=traits, churned=churned, last_csm_contact_at=contact)
