"""The playbook model: what a playbook file says, validated.

A playbook is a trigger, per-tier variants (lists of steps), exits and caps. Steps are:
``send`` (email / in-app), ``task`` (CSM task), ``wait`` (a duration or until a date),
``wait_for`` (``when`` these signals arrive go there; else ``timeout``), ``check`` (was a signal seen in this run?)
and ``end``. A step goes to the next one in its list unless it says ``next``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from touchline.shared.clock import parse_duration
from touchline.shared.messages import OutcomeKind

Tier = Literal["high", "low", "tech"]
TIERS: tuple[Tier, ...] = ("high", "low", "tech")
END = "end"
MAX_HOLDOUT = 0.5  # a larger share withholds the playbook from most accounts: not a holdout any more

# Short names a playbook may use for families of outcome kinds.
SIGNAL_ALIASES: dict[str, tuple[str, ...]] = {
    "opened": ("email.opened", "email.clicked", "inapp.seen", "inapp.clicked", "email.answered", "inapp.answered"),
    "clicked": ("email.clicked", "inapp.clicked"),
    "answered": ("email.answered", "inapp.answered"),
}
ACCOUNT_SIGNALS = (
    "signed",
    "renewed",
    "cancelled",
    "login",
    "feature_used",
    "support_ticket",
    "band_dropped",
    "band_recovered",
    "usage_declined",
    "usage_improved",
    "setup_completed",  # the product reported its setup done (track "Setup Completed" or trait setup_completed)
    "daily_use",  # a login that makes enough distinct login days in the window (see activity.py)
)
# Every outcome notify reports is a signal a playbook can wait for or branch on.
OUTCOME_SIGNALS: tuple[str, ...] = get_args(OutcomeKind)
KNOWN_SIGNALS = frozenset(ACCOUNT_SIGNALS + OUTCOME_SIGNALS)
DATE_ATTRIBUTES = ("renewal_date", "signed_at", "last_csm_contact_at", "first_seen_at", "enrolled_at")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


def expand_signals(names: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if name in SIGNAL_ALIASES:
            out += SIGNAL_ALIASES[name]
        elif name in KNOWN_SIGNALS:
            out.append(name)
        else:
            known = ", ".join(sorted(KNOWN_SIGNALS | set(SIGNAL_ALIASES)))
            raise ValueError(f"unknown signal {name!r} (known: {known})")
    return tuple(dict.fromkeys(out))


class Anchor(_Strict):
    """A date relative to an account attribute (or the enrolment's start): attribute + offset."""

    attribute: str
    offset: timedelta = timedelta(0)

    _offset = field_validator("offset", mode="before")(_duration)

    @field_validator("attribute")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DATE_ATTRIBUTES:
            raise ValueError(f"unknown date attribute {value!r} (known: {', '.join(DATE_ATTRIBUTES)})")
        return value


class Match(_Strict):
    """One branch of a wait_for: these signals (and, for answers, these answer values) go to ``goto``."""

    signals: tuple[str, ...]
    answer: dict[str, Any] = Field(default_factory=dict)  # key -> value | [values] | {min,max} | null (absent)
    goto: str

    @field_validator("signals", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> tuple[str, ...]:
        return expand_signals([value] if isinstance(value, str) else list(value))


RENEWAL_ANSWERS = ("likely", "undecided", "unlikely", "unanswered")


class Offer(_Strict):
    """What a renewal offer holds: rendered by the renewal.offer templates from ``variables["offer"]``."""

    discount_percent: int | None = Field(None, ge=1, le=100)
    event_tickets: int | None = Field(None, ge=1, le=100)
    free_training: bool = False
    emphasis: bool = False


class OfferTable(_Strict):
    """Offers per tier (or ``any``) and per answer of a survey (``unanswered`` when there is none)."""

    survey: str = "renewal"
    tiers: dict[Literal["high", "low", "tech", "any"], dict[str, Offer]]

    @model_validator(mode="after")
    def _complete(self) -> OfferTable:
        if not self.tiers:
            raise ValueError("offer.tiers: at least one tier (high, low, tech or any)")
        for tier, table in self.tiers.items():
            missing = [a for a in RENEWAL_ANSWERS if a not in table]
            unknown = [a for a in table if a not in RENEWAL_ANSWERS]
            if missing or unknown:
                raise ValueError(
                    f"offer.tiers.{tier}: needs exactly the answers {', '.join(RENEWAL_ANSWERS)}"
                    f" (missing {missing or 'none'}, unknown {unknown or 'none'})"
                )
        return self

    def choose(self, *, tier: str, answer: Mapping[str, Any] | None) -> Offer | None:
        table = self.tiers.get(tier) or self.tiers.get("any")  # type: ignore[call-overload]
        if table is None:
            return None
        choice = (answer or {}).get("choice")
        return table.get(choice if isinstance(choice, str) and choice in table else "unanswered")


class Step(_Strict):
    id: str
    kind: Literal["send", "task", "wait", "wait_for", "check", "end"]
    next: str | None = None
    # send
    channel: Literal["email", "in_app"] | None = None
    template: str | None = None
    # answerer: the person who gave the run's latest answer (admins when unknown)
    to: Literal["contacts", "admins", "users", "csm_owner", "user", "answerer"] = "admins"
    # send: offer the features the account used (first used since the run started first) in
    # variables["features"]; the feature-usefulness survey's choices
    offer_features: bool = False
    # send: the offer for this tier and the answer given to ``offer.survey`` in variables["offer"]
    offer: OfferTable | None = None
    # task
    task_type: str | None = None
    reason: str | None = None
    subject: str | None = None
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    due: timedelta | None = None
    # wait / wait_for: a duration from the step's start, or until an anchored date
    duration: timedelta | None = None
    until: Anchor | None = None
    when: tuple[Match, ...] = ()
    timeout: str | None = None  # wait_for: where to go when time runs out (default: next)
    # check
    seen: tuple[str, ...] = ()
    then: str | None = None
    otherwise: str | None = Field(None, alias="else")

    _durations = field_validator("due", "duration", mode="before")(lambda v: None if v is None else _duration(v))

    @field_validator("seen", mode="before")
    @classmethod
    def _expand_seen(cls, value: Any) -> tuple[str, ...]:
        return expand_signals([value] if isinstance(value, str) else list(value or []))

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Step:
        need: dict[str, tuple[str, ...]] = {
            "send": ("channel", "template"),
            "task": ("task_type", "reason", "subject"),
            "check": ("then", "otherwise"),
        }
        for field in need.get(self.kind, ()):
            if getattr(self, field) is None:
                raise ValueError(f"step {self.id!r} ({self.kind}) needs {field if field != 'otherwise' else 'else'}")
        if self.kind in ("wait", "wait_for") and (self.duration is None) == (self.until is None):
            raise ValueError(f"step {self.id!r} ({self.kind}) needs exactly one of duration, until")
        if self.kind == "wait_for" and not self.when:
            raise ValueError(f"step {self.id!r} (wait_for) needs at least one branch in when")
        if self.kind != "send" and (self.offer_features or self.offer is not None):
            raise ValueError(f"step {self.id!r} ({self.kind}): offer_features and offer belong to a send step")
        if self.kind == "check" and not self.seen:
            raise ValueError(f"step {self.id!r} (check) needs seen")
        return self

    def targets(self) -> list[str]:
        found = [self.next, self.timeout, self.then, self.otherwise, *(m.goto for m in self.when)]
        return [t for t in found if t is not None]


class Trigger(_Strict):
    """What starts a run: a signal, or a date relative to an account attribute (optionally recurring)."""

    signal: str | None = None
    date: Anchor | None = None
    every: timedelta | None = None  # recurring date trigger (e.g. NPS twice a year)
    # A recurring trigger fires at most this many times for one value of its date (e.g. while
    # the last contact stays the same); None = no limit.
    max_runs: int | None = Field(None, ge=1)
    phases: tuple[str, ...] = ()  # only accounts in these phases; empty = any phase but churned
    # Not while one of these playbooks runs for the account (it already handles the situation).
    unless_running: tuple[str, ...] = ()

    _every = field_validator("every", mode="before")(lambda v: None if v is None else _duration(v))

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if (self.signal is None) == (self.date is None):
            raise ValueError("trigger needs exactly one of signal, date")
        if self.signal is not None:
            expand_signals([self.signal])
        if self.every is not None and self.date is None:
            raise ValueError("trigger.every only applies to a date trigger")
        if self.max_runs is not None and self.every is None:
            raise ValueError("trigger.max_runs only applies to a recurring trigger (with every)")
        return self


class Exit(_Strict):
    """Leave the run when this signal arrives, optionally through a last step (e.g. renewed -> thanks)."""

    signal: str
    goto: str | None = None

    @field_validator("signal")
    @classmethod
    def _known(cls, value: str) -> str:
        expand_signals([value])
        return value


HoldoutShare = float | Literal["never"]


def _holdout_value(value: Any, where: str = "") -> HoldoutShare:
    if value == "never":
        return "never"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}a share from 0 to {MAX_HOLDOUT} (0.1 = 10 %), or never; got {value!r}")
    if not 0 <= value <= MAX_HOLDOUT:
        raise ValueError(f"{where}{value!r} is outside 0 to {MAX_HOLDOUT} (0 switches the holdout off)")
    return float(value)


class Playbook(_Strict):
    name: str
    description: str = ""
    trigger: Trigger
    variants: dict[Literal["high", "low", "tech", "default"], tuple[Step, ...]]
    exits: tuple[Exit, ...] = ()
    cooldown: timedelta = timedelta(0)  # not re-enrolled within this time of the last run's start
    counts_towards_cap: bool = True
    # The share of eligible accounts held out (recorded, sent nothing) to measure the playbook
    # against: a share, ``never``, or per variant ``{tech: 0.1, low: 0.05, default: 0}``.
    # None: the service's default (TOUCHLINE_TOUCH_HOLDOUT_DEFAULT). See domain/holdout.py.
    holdout: HoldoutShare | dict[str, HoldoutShare] | None = None

    _cooldown = field_validator("cooldown", mode="before")(_duration)

    @field_validator("holdout", mode="before")
    @classmethod
    def _holdout(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            unknown = [k for k in value if k not in (*TIERS, "default")]
            if unknown:
                raise ValueError(f"unknown variant {unknown[0]!r} (known: high, low, tech, default)")
            return {str(k): _holdout_value(v, f"variant {k}: ") for k, v in value.items()}
        return _holdout_value(value)

    def holdout_share(self, variant: str, *, default: float) -> HoldoutShare:
        """The holdout share for a run of this variant: the variant's, the playbook's, else ``default``."""
        own = self.holdout
        if isinstance(own, dict):
            own = own.get(variant, own.get("default"))
        return default if own is None else own

    @model_validator(mode="after")
    def _graph(self) -> Playbook:
        if not self.variants:
            raise ValueError("variants: at least one variant (high, low, tech or default)")
        if isinstance(self.holdout, dict):
            for variant in self.holdout:
                if variant not in self.variants:
                    raise ValueError(f"holdout.{variant}: the playbook has no variant {variant!r}")
        for variant, steps in self.variants.items():
            if not steps:
                raise ValueError(f"variants.{variant}: no steps")
            ids = [s.id for s in steps]
            dupes = {i for i in ids if ids.count(i) > 1}
            if dupes:
                raise ValueError(f"variants.{variant}: duplicate step ids {sorted(dupes)}")
            known = set(ids) | {END}
            for step in steps:
                for target in step.targets():
                    if target not in known:
                        raise ValueError(f"variants.{variant}: step {step.id!r} goes to unknown step {target!r}")
            for ex in self.exits:
                if ex.goto is not None and ex.goto not in known:
                    raise ValueError(f"exits: {ex.signal} goes to {ex.goto!r}, not a step of variant {variant}")
        return self

    def variant_for(self, tier: str) -> tuple[str, tuple[Step, ...]] | None:
        if tier in self.variants:
            return tier, self.variants[tier]  # type: ignore[index]
        if "default" in self.variants:
            return "default", self.variants["default"]
        return None

    def steps_of(self, variant: str) -> tuple[Step, ...]:
        return self.variants[variant]  # type: ignore[index]


def parse_playbook(data: Any) -> Playbook:
    """Validate a playbook document (already parsed from YAML); raises pydantic.ValidationError."""
    if isinstance(data, dict) and isinstance(data.get("variants"), dict):
        data = {**data, "variants": {k: [_step_doc(s) for s in (v or [])] for k, v in data["variants"].items()}}
    return Playbook.model_validate(data)


def _step_doc(doc: Any) -> Any:
    """Steps are written ``{id: x, send: {...}}``: the one kind key becomes ``kind`` plus its fields."""
    if not isinstance(doc, dict):
        return doc
    kinds = [k for k in ("send", "task", "wait", "wait_for", "check", "end") if k in doc]
    if len(kinds) != 1:
        return {**doc, "kind": None}
    kind = kinds[0]
    body = doc[kind]
    rest = {k: v for k, v in doc.items() if k != kind}
    if kind == "end" or body is None:
        return {**rest, "kind": kind}
    if kind == "wait" and not isinstance(body, dict):
        body = {"duration": body}
    if not isinstance(body, dict):
        return {**rest, "kind": kind, "_": body}
    if True in body:  # YAML 1.1 reads a bare `on:` key as true
        body = {("when" if k is True else k): v for k, v in body.items()}
    if kind == "task" and "type" in body:
        body = {("task_type" if k == "type" else k): v for k, v in body.items()}
    return {**rest, **body, "kind": kind}
