"""Message schemas carried on the topics, as versioned pydantic models.

The CloudEvents ``type`` of each model is its ``ce_type``; a breaking change gets a new
model with a new version suffix, and consumers keep reading the old one until it drains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

import msgspec
from pydantic import BaseModel, ConfigDict, Field

Band = Literal["good", "healthy", "caution", "action_required"]
# The one definition of the bands and their order: every list, order and rank of bands derives
# from these (health's overrides and sorting, touch's band signals, the console).
BANDS: tuple[Band, ...] = get_args(Band)  # best first, as people read them
BANDS_WORST_FIRST: tuple[Band, ...] = BANDS[::-1]  # a band's index here is its rank: a fall lowers it
# Usage has declined when HealthScored.usage_trend is at or below minus this share. Health
# republishes a score when the trend crosses it and touch's usage_declined signal fires at it, so
# both services' settings default to it (TOUCHLINE_HEALTH_DECLINE_THRESHOLD = -share,
# TOUCHLINE_TOUCH_USAGE_DECLINE_THRESHOLD = share) and must be changed together: when they differ,
# a trend crossing touch's threshold between two of health's publications goes unseen by touch.
USAGE_DECLINE_SHARE = 0.3
# "webhook": an account event (template = its type) notify posts to its Standard Webhooks endpoints.
Channel = Literal["email", "in_app", "task", "webhook"]
Priority = Literal["low", "medium", "high", "urgent"]


class Message(BaseModel):
    """Base of every message: frozen, unknown fields ignored so producers can add fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    ce_type: ClassVar[str] = ""

    def key(self) -> str:
        """The partition key: always the account id."""
        return str(self.account_id)  # type: ignore[attr-defined]  # every keyed subclass declares it

    def event_id(self) -> str:
        raise NotImplementedError


class ProductEvent(Message):
    """A normalised Segment call (track, identify, group, page, screen, alias) tied to an account."""

    ce_type: ClassVar[str] = "touchline.event.v1"

    message_id: str
    account_id: str
    kind: Literal["track", "identify", "group", "page", "screen", "alias"]
    event: str | None = None  # the track event name as sent
    # What the event means to Touchline, recognised by ingest from well-known names.
    semantic: Literal[
        "login", "feature_used", "signed", "renewed", "cancelled", "support_ticket", "webinar_attended", "other"
    ] = "other"
    feature: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    timestamp: datetime  # event time, corrected for client clock skew
    received_at: datetime
    source: str = "default"  # the write key's source name
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    def event_id(self) -> str:
        return self.message_id


class _ScoredProperties(msgspec.Struct, frozen=True, gc=False):
    feature: Any = None


class ProductEventFacts(msgspec.Struct, frozen=True, gc=False):
    """What a consumer that only folds usage reads of a ProductEvent (health's scoring), as a
    tolerant reader: the same names, types and defaults as the model for these fields, other
    fields (context, most properties) skipped unread.

    Decoded by msgspec instead of pydantic: about 1 us per event instead of 6, and health
    decodes every event. tests/unit/shared/test_event_facts.py pins it to ProductEvent.
    Differences, on data ingest never writes: a time must be an RFC 3339 string (pydantic would
    also take a number of seconds), and a number beyond float range is refused (pydantic: inf)."""

    message_id: str
    account_id: str
    kind: Literal["track", "identify", "group", "page", "screen", "alias"]
    timestamp: datetime
    received_at: datetime
    event: str | None = None
    semantic: Literal[
        "login", "feature_used", "signed", "renewed", "cancelled", "support_ticket", "webinar_attended", "other"
    ] = "other"
    feature: str | None = None
    user_id: str | None = None
    properties: _ScoredProperties = msgspec.field(default_factory=_ScoredProperties)
    traits: dict[str, Any] = msgspec.field(default_factory=dict)

    def event_id(self) -> str:
        return self.message_id


_FACTS = msgspec.json.Decoder(ProductEventFacts)


def read_product_event_facts(value: bytes) -> ProductEventFacts:
    """A cloudevents reader for ``touchline.event.v1``; invalid data raises ValueError."""
    return _FACTS.decode(value)  # msgspec.ValidationError and DecodeError are ValueErrors


class Contribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    measure: str
    group: Literal["deployment", "engagement", "adoption", "roi", "other"]
    value: float | None  # the raw measured value; None = no data
    score: float | None  # 0..100; None = left out
    weight: float  # normalised weight actually applied (0 when left out)
    contribution: float  # score * weight, in score points
    missing: bool = False


class HealthScored(Message):
    """An account's health score changed materially (score or band)."""

    ce_type: ClassVar[str] = "touchline.health.scored.v1"

    score_id: str
    account_id: str
    score: float
    band: Band
    previous_score: float | None = None
    previous_band: Band | None = None
    scorecard: str = "default"
    contributions: list[Contribution] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    overridden: bool = False
    computed_at: datetime
    cause: str = "event"  # "event", "decay", "override"
    # Signals touch's triggers read: usage of the last 30 days vs the 30 before (-0.6 = fell 60 %),
    # and days since the last login (None = never seen one).
    usage_trend: float | None = None
    days_since_login: float | None = None

    def event_id(self) -> str:
        return self.score_id


class Recipients(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["contacts", "admins", "users", "csm_owner", "user"] = "contacts"
    user_ids: list[str] = Field(default_factory=list)


class TaskSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str  # e.g. "churn_risk", "detractor_follow_up"
    reason: str
    subject: str
    priority: Priority = "medium"
    due_at: datetime | None = None
    body: str = ""


class Command(Message):
    """touch asks notify to send an email, show an in-app message, or open a CSM task."""

    ce_type: ClassVar[str] = "touchline.command.v1"

    command_id: str  # deterministic: same enrolment + step + attempt -> same id
    account_id: str
    channel: Channel
    template: str | None = None  # email / in-app template name
    task: TaskSpec | None = None
    recipients: Recipients = Field(default_factory=Recipients)
    variables: dict[str, Any] = Field(default_factory=dict)
    enrolment_id: str | None = None
    playbook: str | None = None
    step: str | None = None
    dedup_key: str
    issued_at: datetime

    def event_id(self) -> str:
        return self.command_id


OutcomeKind = Literal[
    "email.sent",
    "email.failed",
    "email.opened",
    "email.clicked",
    "email.unsubscribed",
    "email.answered",
    "inapp.shown",
    "inapp.seen",
    "inapp.dismissed",
    "inapp.clicked",
    "inapp.answered",
    "task.opened",
    "task.updated",
    "task.completed",
    "activity.logged",
]


class Outcome(Message):
    """What happened to a command: a delivery fact or a customer's / CSM's reaction."""

    ce_type: ClassVar[str] = "touchline.outcome.v1"

    outcome_id: str
    account_id: str
    kind: OutcomeKind
    command_id: str | None = None
    enrolment_id: str | None = None
    playbook: str | None = None
    step: str | None = None
    template: str | None = None
    user_id: str | None = None
    answer: dict[str, Any] | None = None  # e.g. {"survey": "nps", "score": 9, "comment": "..."}
    machine: bool = False  # an open that looks automatic (prefetch, scanner)
    detail: str = ""
    occurred_at: datetime
    # activity.logged: {kind: call|meeting|email|note, reached, relationship: 1..5|None, occurred_at, csm,
    # contact} (see touchline.shared.contact for what counts as contact)
    activity: dict[str, Any] | None = None

    def event_id(self) -> str:
        return self.outcome_id


class ClockSet(Message):
    """Simulated time moved to ``now``."""

    ce_type: ClassVar[str] = "touchline.clock.v1"

    now: datetime
    seq: int = 0

    def key(self) -> str:
        return "clock"

    def event_id(self) -> str:
        return f"clock-{self.seq}-{self.now.isoformat()}"


REGISTRY: dict[str, type[Message]] = {m.ce_type: m for m in (ProductEvent, HealthScored, Command, Outcome, ClockSet)}
