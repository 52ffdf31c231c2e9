"""Who the simulated customers are and how they behave: pure functions of (seed, day, account).

Nothing here does I/O or reads the time: the runner passes the simulation start and the day
number in, and every random draw comes from a ``random.Random`` seeded with a string built
from the seed and what is being decided, so one (seed, account, day) always gives the same
events whatever else the simulation does (adding accounts never changes the others).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

Persona = Literal[
    "thriving",
    "slow_decline",
    "champion_leaves",
    "stalled_onboarding",
    "renewal_undecided",
    "detractor",
    "promoter",
    "long_silent",
    "recovering",
    "hesitant",
]
PERSONAS: tuple[Persona, ...] = (
    "thriving",
    "slow_decline",
    "champion_leaves",
    "stalled_onboarding",
    "renewal_undecided",
    "detractor",
    "promoter",
    "long_silent",
    "recovering",
    "hesitant",
)
Tier = Literal["tech", "low", "high"]
# ARR ranges that land in each touch tier with the seed tier rules (ARR-based segmentation).
ARR_RANGES: dict[Tier, tuple[int, int]] = {"tech": (1_200, 9_000), "low": (12_000, 45_000), "high": (60_000, 240_000)}
PLAN_BY_TIER: dict[Tier, str] = {"tech": "starter", "low": "business", "high": "enterprise"}
FEATURES = ("dashboard", "reports", "export", "integrations", "alerts", "api", "automations")
COMPANY_WORDS = ("Kaze", "Sora", "Hikari", "Mori", "Umi", "Nova", "Atlas", "Birch", "Cobalt", "Delta", "Ember", "Fjord")
FIRST_NAMES = ("Aoi", "Haruto", "Yui", "Sota", "Mei", "Ren", "Alex", "Sam", "Jordan", "Taylor", "Kim", "Noa")
# The day the champion of a "champion_leaves" account stops using the product.
CHAMPION_LEAVES_DAY = 14
# A slow decline starts before the simulation (day DECLINE_FROM) and takes DECLINE_DAYS to go
# from daily use to almost nothing, so usage falls 30 % month-on-month within the first week.
DECLINE_FROM = -20
DECLINE_DAYS = 30
# A recovering account declines like a slow one (touch's usage_declined: the 30-day trend at -0.3,
# reached around day 4), reads the decline notice and is back at full use from this day, trying
# features it never used before; late enough that noise cannot hide the decline.
RECOVERS_DAY = 10
# The features a recovering account used before it recovered; the rest are new to it afterwards.
USUAL_FEATURES = FEATURES[:4]
# Renewal of the undecided account: inside the 90–120-day reminder window on day 0, so the
# 60-day offer falls on day 31 of the simulation.
UNDECIDED_RENEWAL_IN_DAYS = 91
DAY_START = time(8, 0)


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    name: str
    role: Literal["admin", "decision_maker", "user"]
    locale: str


@dataclass(frozen=True)
class Account:
    account_id: str
    persona: Persona
    tier: Tier
    name: str
    plan: str
    arr: int
    seats: int
    renewal_date: date
    csm_owner: str
    locale: Literal["ja", "en"]
    signed_at: datetime
    lifecycle_stage: Literal["onboarding", "adoption", "retention"]
    users: tuple[User, ...]

    def traits(self) -> dict[str, Any]:
        """The canonical group traits ingest expects."""
        return {
            "name": self.name,
            "plan": self.plan,
            "arr": self.arr,
            "seats": self.seats,
            "renewal_date": self.renewal_date.isoformat(),
            "csm_owner": self.csm_owner,
            "lifecycle_stage": self.lifecycle_stage,
            "locale": self.locale,
            "signed_at": self.signed_at.isoformat(),
        }


@dataclass(frozen=True)
class PlannedEvent:
    """One Segment call to send: ``type`` is track, identify or group."""

    type: Literal["track", "identify", "group"]
    account_id: str
    user_id: str
    at: datetime
    message_id: str
    event: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)


def rng(seed: int, *parts: object) -> random.Random:
    """A generator private to one decision: str seeds hash deterministically across runs."""
    return random.Random(":".join([str(seed), *map(str, parts)]))


def make_accounts(
    *,
    seed: int,
    count: int,
    start: datetime,
    id_prefix: str = "acct",
    personas: tuple[Persona, ...] = PERSONAS,
    tiers: tuple[Tier, ...] | None = None,
) -> list[Account]:
    """``count`` accounts, personas taken in turn (so a small run still covers each one);
    tier drawn (mostly tech touch, as in a real long tail) unless ``tiers`` is given."""
    if count < 1:
        raise ValueError(f"count: need at least one account, got {count}")
    if not personas:
        raise ValueError("personas: need at least one persona")
    return [
        make_account(
            seed=seed,
            index=i,
            start=start,
            persona=personas[i % len(personas)],
            id_prefix=id_prefix,
            tier=tiers[i % len(tiers)] if tiers else None,
        )
        for i in range(count)
    ]


def make_account(
    *, seed: int, index: int, start: datetime, persona: Persona, id_prefix: str, tier: Tier | None
) -> Account:
    r = rng(seed, id_prefix, index, "account")
    chosen: Tier = tier or r.choices(("tech", "low", "high"), weights=(70, 20, 10))[0]  # type: ignore[assignment]
    low, high = ARR_RANGES[chosen]
    arr = round(r.randint(low, high), -2)
    account_id = f"{id_prefix}-{index:05d}"
    locale: Literal["ja", "en"] = "ja" if r.random() < 0.5 else "en"
    seats = {"tech": r.randint(3, 10), "low": r.randint(10, 40), "high": r.randint(40, 200)}[chosen]
    onboarding = persona == "stalled_onboarding"
    signed_at = start if onboarding else start - timedelta(days=r.randint(400, 1000))
    renewal_in = UNDECIDED_RENEWAL_IN_DAYS if persona == "renewal_undecided" else r.randint(150, 330)
    domain = f"{account_id}.example.com"
    user_count = min(seats, 2 + r.randint(0, 3))
    users = tuple(
        User(
            user_id=f"{account_id}-u{j}",
            email=f"u{j}@{domain}",
            name=f"{r.choice(FIRST_NAMES)} {account_id[-3:]}{j}",
            role="admin" if j == 0 else ("decision_maker" if j == 1 else "user"),
            locale=locale,
        )
        for j in range(user_count)
    )
    return Account(
        account_id=account_id,
        persona=persona,
        tier=chosen,
        name=f"{r.choice(COMPANY_WORDS)} {r.choice(COMPANY_WORDS)} {index}",
        plan=PLAN_BY_TIER[chosen],
        arr=arr,
        seats=seats,
        renewal_date=(start + timedelta(days=renewal_in)).date(),
        csm_owner=f"csm{r.randint(1, 4)}@touchline.example.com",
        locale=locale,
        signed_at=signed_at,
        lifecycle_stage="onboarding" if onboarding else "retention",
        users=users,
    )


def activity(persona: Persona, *, day: int, user_index: int) -> float:
    """Probability that one user is active on ``day``: the persona's story as a curve.

    Negative days are the history before the simulation starts (sent as a backfill on day 0)
    so that trends have a "before" to compare with from the first simulated day."""
    if persona == "stalled_onboarding":
        # Signs on day 0, looks around on the first two days, never comes back.
        return 1.0 if 0 <= day <= 1 and user_index == 0 else 0.0
    if persona == "long_silent":
        # A single user logs in now and then; nobody on either side talks.
        return 0.15 if user_index == 0 else 0.0
    if persona in ("thriving", "promoter"):
        return 0.9
    if persona in ("renewal_undecided", "detractor", "hesitant"):
        return 0.6
    if persona == "recovering" and day >= RECOVERS_DAY:
        return 0.9
    if persona in ("slow_decline", "recovering"):
        # From daily use to almost nothing over DECLINE_DAYS, then it stays low.
        return max(0.05, min(0.85, 0.85 - 0.8 * (day - DECLINE_FROM) / DECLINE_DAYS))
    # champion_leaves: business as usual until the champion goes, then the rest drift away.
    if day < CHAMPION_LEAVES_DAY:
        return 0.85
    return 0.0 if user_index == 0 else 0.1


def depth(persona: Persona, *, day: int) -> int:
    """How many distinct features an active user touches in a day."""
    if persona in ("thriving", "promoter") or (persona == "recovering" and day >= RECOVERS_DAY):
        return 4
    if persona in ("slow_decline", "recovering"):
        return 3 if day < DECLINE_FROM + DECLINE_DAYS // 2 else 1
    if persona in ("stalled_onboarding", "long_silent"):
        return 0
    return 2


def features_of(persona: Persona, *, day: int) -> tuple[str, ...]:
    """The features ``persona``'s users pick from on ``day``."""
    if persona == "recovering" and day < RECOVERS_DAY:
        return USUAL_FEATURES
    return FEATURES


def day_events(account: Account, *, seed: int, day: int, start: datetime) -> list[PlannedEvent]:
    """What ``account``'s users do on simulation ``day`` (day 0 = ``start``'s date; negative
    days are history). Who they are (identify, group) is :func:`introductions`."""
    base = datetime.combine(start.date() + timedelta(days=day), DAY_START, tzinfo=start.tzinfo)
    events: list[PlannedEvent] = []
    if day == 0 and account.persona == "stalled_onboarding":
        events.append(_track(account, account.users[0], at=base, event="Contract Signed", tag="signed"))
    for index, user in enumerate(account.users):
        r = rng(seed, account.account_id, day, user.user_id)
        if r.random() >= activity(account.persona, day=day, user_index=index):
            continue
        at = base + timedelta(minutes=5 + r.randint(0, 50))
        events.append(_track(account, user, at=at, event="Signed In", tag=f"d{day}-login"))
        features = r.sample(features_of(account.persona, day=day), depth(account.persona, day=day))
        for n, feature in enumerate(features):
            events.append(
                _track(
                    account,
                    user,
                    at=at + timedelta(minutes=1 + n),
                    event="Feature Used",
                    tag=f"d{day}-f{n}",
                    properties={"feature": feature},
                )
            )
    return events


def introduced_at(account: Account, *, known_since: datetime) -> datetime:
    """When the product first told us about ``account``: a new customer when it signs, the
    others when we start hearing of them (``known_since``)."""
    if account.persona == "stalled_onboarding":
        return account.signed_at + timedelta(hours=7)
    return known_since + timedelta(hours=7)


def introductions(account: Account, *, at: datetime) -> list[PlannedEvent]:
    """Who each user is and which account they belong to (sent once, before anything else)."""
    events: list[PlannedEvent] = []
    for n, user in enumerate(account.users):
        user_traits = {"email": user.email, "name": user.name, "locale": user.locale, "role": user.role}
        events.append(
            PlannedEvent(
                type="identify",
                account_id=account.account_id,
                user_id=user.user_id,
                at=at + timedelta(seconds=2 * n),
                message_id=f"{user.user_id}-identify",
                traits=user_traits,
            )
        )
        events.append(
            PlannedEvent(
                type="group",
                account_id=account.account_id,
                user_id=user.user_id,
                at=at + timedelta(seconds=2 * n + 1),
                message_id=f"{user.user_id}-group",
                traits=account.traits(),
            )
        )
    return events


def _track(
    account: Account,
    user: User,
    *,
    at: datetime,
    event: str,
    tag: str,
    properties: dict[str, Any] | None = None,
) -> PlannedEvent:
    return PlannedEvent(
        type="track",
        account_id=account.account_id,
        user_id=user.user_id,
        at=at,
        message_id=f"{user.user_id}-{tag}",
        event=event,
        properties=properties or {},
    )
