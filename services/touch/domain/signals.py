"""What the consumed messages mean to touch: profile changes and signals. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from touchline.shared.contact import csm_contact
from touchline.shared.messages import BANDS_WORST_FIRST, USAGE_DECLINE_SHARE, HealthScored, Outcome, ProductEvent

from .activity import Activity, UsageRules, clear_decline, in_daily_use, note_decline, record_use, recovered
from .changes import Fact
from .engine import Signal
from .tiers import Profile

BAND_RANK = {band: rank for rank, band in enumerate(BANDS_WORST_FIRST)}
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
USAGE_KINDS = ("track", "page", "screen")
# How a product says its setup is done: a track event of this name (any case, spaces or _),
# or the group trait setup_completed (true or a date). See docs/touch.md.
SETUP_EVENT = "setup completed"
SETUP_TRAIT = "setup_completed"


@dataclass(frozen=True)
class SignalThresholds:
    decline: float = USAGE_DECLINE_SHARE  # usage_trend <= -decline -> usage_declined
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
    usage: bool = False  # a usage event (track, page, screen): counted in the account's activity
    feature: str | None = None  # the feature a feature_used event names
    command_id: str | None = None  # an outcome's command (the effectiveness report's funnel)
    band: str | None = None  # a health score's new band (kept as a fact for the effectiveness report)
    previous_band: str | None = None  # and the band before it, with the score (told to CRM webhooks)
    score: float | None = None


def _setup_completed(event: ProductEvent) -> bool:
    if event.kind == "track" and event.event:
        return " ".join(event.event.replace("_", " ").split()).lower() == SETUP_EVENT
    if event.kind == "group":
        value = event.traits.get(SETUP_TRAIT)
        return value not in (None, False, "", 0, "false", "no")
    return False


def from_event(event: ProductEvent) -> list[Input]:
    traits = {k: v for k, v in event.traits.items() if k in PROFILE_TRAITS} if event.kind == "group" else {}
    signal = None
    if _setup_completed(event):
        signal = Signal("setup_completed", event.timestamp)
    elif event.semantic != "other":
        signal = Signal(event.semantic, event.timestamp)
    usage = event.kind in USAGE_KINDS
    if not traits and signal is None and not usage:
        return []
    feature = event.feature if event.semantic == "feature_used" else None
    return [
        Input(
            source_id=event.message_id,
            at=event.timestamp,
            signal=signal,
            traits=traits,
            usage=usage,
            feature=feature,
        )
    ]


def from_health(scored: HealthScored, *, thresholds: SignalThresholds) -> list[Input]:
    # Usage first: a band that dropped because usage fell is the risk playbook's, which the band
    # drop playbook leaves alone while it runs (trigger.unless_running).
    names: list[str] = []
    trend, idle = scored.usage_trend, scored.days_since_login
    if (trend is not None and trend <= -thresholds.decline) or (idle is not None and idle >= thresholds.inactive_days):
        names.append("usage_declined")
    elif trend is not None and trend >= thresholds.recovered:
        names.append("usage_improved")
    now, before = BAND_RANK[scored.band], BAND_RANK.get(scored.previous_band or "", None)
    if before is not None and now < before and now <= BAND_RANK["caution"]:
        names.append("band_dropped")
    if before is not None and now > before and before <= BAND_RANK["caution"] and now >= BAND_RANK["healthy"]:
        names.append("band_recovered")
    at = scored.computed_at
    inputs = [Input(source_id=f"{scored.score_id}:{n}", at=at, signal=Signal(n, at)) for n in names]
    if scored.band != scored.previous_band:
        inputs.append(
            Input(
                source_id=f"{scored.score_id}:band",
                at=at,
                band=scored.band,
                previous_band=scored.previous_band,
                score=scored.score,
            )
        )
    return inputs


def from_outcome(outcome: Outcome) -> list[Input]:
    if outcome.machine:
        # An automatic open (prefetch, scanner, Mail Privacy Protection) is no sign of a person:
        # it must not satisfy an "opened" wait or check.
        return []
    signal = Signal(
        outcome.kind, outcome.occurred_at, answer=outcome.answer, template=outcome.template, user_id=outcome.user_id
    )
    return [
        Input(
            source_id=outcome.outcome_id,
            at=outcome.occurred_at,
            signal=signal,
            enrolment_id=outcome.enrolment_id,
            command_id=outcome.command_id,
            csm_contact=csm_contact(kind=outcome.kind, detail=outcome.detail, activity=outcome.activity),
        )
    ]


# Signals the effectiveness report counts as the account's outcomes.
OUTCOME_FACTS = ("renewed", "cancelled", "usage_improved")
# A person's reactions to a command, for the funnel (machine opens never become inputs).
REACTION_FACTS = (
    "email.opened",
    "inapp.seen",
    "email.clicked",
    "inapp.clicked",
    "email.answered",
    "inapp.answered",
    "task.completed",
)


def facts_of(item: Input, signals: list[Signal], *, in_decline: bool) -> list[Fact]:
    """What of this input the effectiveness report keeps (see changes.Fact). ``usage_improved``
    counts only as the end of a decline (``in_decline``: one was noted before this input); health
    also reports it for any account whose use simply did not fall."""
    facts = [
        Fact(s.name, s.at) for s in signals if s.name in OUTCOME_FACTS and (s.name != "usage_improved" or in_decline)
    ]
    if item.band is not None and item.band in BAND_RANK:
        facts.append(Fact("band", item.at, value=float(BAND_RANK[item.band])))
    signal = item.signal
    if signal is not None and signal.name in REACTION_FACTS and item.command_id is not None:
        facts.append(Fact(signal.name, item.at, command_id=item.command_id, enrolment_id=item.enrolment_id))
    answer = (signal.answer or {}) if signal is not None else {}
    score = answer.get("score")
    if answer.get("survey") == "nps" and isinstance(score, int | float) and not isinstance(score, bool):
        facts.append(Fact("nps", item.at, value=float(score)))
    return facts


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


def observe_activity(
    activity: Activity, item: Input, *, at: datetime, rules: UsageRules
) -> tuple[Activity, list[Signal]]:
    """The activity after this input, and the signals it derives: ``usage_improved`` when use is
    back to the level before the decline, ``daily_use`` on a login that completes daily use."""
    name = item.signal.name if item.signal is not None else None
    derived: list[Signal] = []
    if name == "usage_declined":
        activity = note_decline(activity, at=at)
    elif name == "usage_improved":
        activity = clear_decline(activity)
    if item.usage:
        activity = record_use(activity, at=at, login=name == "login", feature=item.feature)
        if recovered(activity, at=at, rules=rules):
            activity = clear_decline(activity)
            derived.append(Signal("usage_improved", at))
        if name == "login" and in_daily_use(activity, at=at, rules=rules):
            derived.append(Signal("daily_use", at))
    return activity, derived
