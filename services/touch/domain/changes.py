"""What a decision about one account reads (a Snapshot) and what it decides (a ChangeSet).

Pure. The service layer loads a snapshot under the account's lock, the decisions run on an
``Account`` (the snapshot plus what this call already decided) and the change set it yields is
written in one place. Nothing is read back from storage in between, so nothing can be stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from touchline.shared.messages import Command

from .activity import Activity
from .engine import Enrolment, HistoryEntry
from .tiers import Profile, StoredTier, TierAssignment


@dataclass(frozen=True)
class TimerRow:
    key: str  # "enrolment:<id>" or "trigger:<playbook>"
    due_at: datetime
    enrolment_id: str | None = None
    playbook: str | None = None
    fired_at: datetime | None = None  # a fired date trigger keeps its row (and its instant)


@dataclass(frozen=True)
class Snapshot:
    """One account as stored, as far as the decisions read it."""

    account_id: str
    profile: Profile | None = None
    tier: StoredTier | None = None
    activity: Activity = field(default_factory=Activity)
    enrolments: tuple[Enrolment, ...] = ()  # the open runs (active or paused)
    enrolment_ids: frozenset[str] = frozenset()  # every run ever, open or not
    last_enrolled: Mapping[str, datetime] = field(default_factory=dict)  # playbook -> latest enrolled_at
    sends: tuple[tuple[str, datetime], ...] = ()  # (command id, at) of customer messages after sends_since
    sends_since: datetime | None = None  # the cap asks for none before it; None: all are in ``sends``
    timers: tuple[TimerRow, ...] = ()
    fired: Mapping[str, frozenset[datetime]] = field(default_factory=dict)  # one-shot date values, by playbook


@dataclass(frozen=True)
class SetTimer:
    key: str
    due_at: datetime
    enrolment_id: str | None = None
    playbook: str | None = None


@dataclass(frozen=True)
class ClearTimer:
    key: str


@dataclass(frozen=True)
class MarkFired:
    key: str
    at: datetime


TimerChange = SetTimer | ClearTimer | MarkFired


@dataclass(frozen=True)
class FiredDateTrigger:
    playbook: str
    occurrence: datetime
    at: datetime


@dataclass(frozen=True)
class Fact:
    """Something the effectiveness report counts, as it happened to the account: ``renewed``,
    ``cancelled``, ``usage_improved``, ``band`` (value: the band's rank, worst 0), ``nps`` (value:
    the score), or a person's reaction to a command (an outcome kind, with the command and run);
    and the book of business the portfolio reads (domain/book.py): ``arr`` (value), ``owner``
    (label: the CSM), ``churned`` (value 1, or 0 when won back)."""

    kind: str
    at: datetime
    value: float | None = None
    command_id: str | None = None
    enrolment_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """Everything one call decided for one account, in the order it was decided."""

    account_id: str
    profile: tuple[Profile, datetime] | None = None  # the profile after the call, as of its last change
    tiers: tuple[tuple[TierAssignment, datetime], ...] = ()  # every change of tier (each one is history)
    activity: Activity | None = None  # None: unchanged
    enrolments: tuple[tuple[Enrolment, datetime], ...] = ()  # each run's last state, first written first
    history: tuple[tuple[str, HistoryEntry], ...] = ()  # (enrolment id, entry)
    sends: tuple[tuple[str, datetime], ...] = ()  # (command id, at), for the message cap
    timers: tuple[TimerChange, ...] = ()  # applied in order: a timer set twice ends as the second
    date_triggers: tuple[FiredDateTrigger, ...] = ()
    fired: tuple[tuple[datetime, datetime], ...] = ()  # (due at, fired as of) of each timer fired
    commands: tuple[Command, ...] = ()
    facts: tuple[Fact, ...] = ()


class Account:
    """The working copy of one account while a call decides: reads answer from the snapshot and
    from what the call already decided; every write is kept for the change set."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.account_id = snapshot.account_id
        self.profile = snapshot.profile
        self.tier = snapshot.tier
        self.activity = snapshot.activity
        self._open = {e.id: e for e in snapshot.enrolments}
        self._ids = set(snapshot.enrolment_ids)
        self._last_enrolled = dict(snapshot.last_enrolled)
        self._sends = dict(snapshot.sends)
        self._sends_since = snapshot.sends_since
        self._timers = {t.key: t for t in snapshot.timers}
        self._fired = {name: set(values) for name, values in snapshot.fired.items()}
        self._profile_change: tuple[Profile, datetime] | None = None
        self._tiers: list[tuple[TierAssignment, datetime]] = []
        self._activity_changed = False
        self._saved: dict[str, tuple[Enrolment, datetime]] = {}
        self._history: list[tuple[str, HistoryEntry]] = []
        self._new_sends: list[tuple[str, datetime]] = []
        self._timer_changes: list[TimerChange] = []
        self._date_triggers: list[FiredDateTrigger] = []
        self._woken: list[tuple[datetime, datetime]] = []
        self._commands: list[Command] = []
        self._facts: list[Fact] = []

    # --- reads --------------------------------------------------------------------------------

    def open_enrolments(self) -> list[Enrolment]:
        return sorted(self._open.values(), key=lambda e: (e.enrolled_at, e.id))

    def enrolment(self, enrolment_id: str) -> Enrolment | None:
        """An open run, or one this call wrote (a run closed before the call is not in the snapshot)."""
        saved = self._saved.get(enrolment_id)
        return saved[0] if saved is not None else self._open.get(enrolment_id)

    def has_enrolment(self, enrolment_id: str) -> bool:
        return enrolment_id in self._ids

    def last_enrolled_at(self, playbook: str) -> datetime | None:
        return self._last_enrolled.get(playbook)

    def recent_sends(self, *, since: datetime) -> tuple[datetime, ...]:
        if self._sends_since is not None and since < self._sends_since:
            raise ValueError(f"sends since {since} asked of a snapshot holding those since {self._sends_since}")
        return tuple(sorted(at for at in self._sends.values() if at > since))

    def next_due(self, *, until: datetime) -> TimerRow | None:
        due = [t for t in self._timers.values() if t.fired_at is None and t.due_at <= until]
        return min(due, key=lambda t: (t.due_at, t.key), default=None)

    def earliest_due(self) -> datetime | None:
        return min((t.due_at for t in self._timers.values() if t.fired_at is None), default=None)

    def fired_date_triggers(self) -> dict[str, set[datetime]]:
        return {name: set(values) for name, values in self._fired.items()}

    # --- writes -------------------------------------------------------------------------------

    def save_profile(self, profile: Profile, *, at: datetime) -> None:
        self.profile = profile
        self._profile_change = (profile, at)

    def save_tier(self, assignment: TierAssignment, *, at: datetime) -> None:
        a = assignment
        self.tier = StoredTier(a.tier, a.rule, a.phase, a.value, a.reason, at)
        self._tiers.append((assignment, at))

    def save_activity(self, activity: Activity) -> None:
        self.activity = activity
        self._activity_changed = True

    def save_enrolment(self, e: Enrolment, *, at: datetime) -> None:
        self._saved[e.id] = (e, at)  # a run written twice keeps its place, with its last state
        self._ids.add(e.id)
        if e.open:
            self._open[e.id] = e
        else:
            self._open.pop(e.id, None)
        latest = self._last_enrolled.get(e.playbook)
        if latest is None or e.enrolled_at > latest:
            self._last_enrolled[e.playbook] = e.enrolled_at

    def add_history(self, enrolment_id: str, entries: Iterable[HistoryEntry]) -> None:
        self._history += [(enrolment_id, h) for h in entries]

    def record_sends(self, sends: Sequence[tuple[str, datetime]]) -> None:
        for command_id, at in sends:
            if command_id not in self._sends:  # a command counts once, as when it was first recorded
                self._sends[command_id] = at
            self._new_sends.append((command_id, at))

    def set_timer(
        self, key: str, due_at: datetime, *, enrolment_id: str | None = None, playbook: str | None = None
    ) -> None:
        """Schedule (or move) a timer; one that already fired for the same instant stays fired."""
        old = self._timers.get(key)
        fired_at = old.fired_at if old is not None and old.due_at == due_at else None
        self._timers[key] = TimerRow(key, due_at, enrolment_id, playbook, fired_at)
        self._timer_changes.append(SetTimer(key, due_at, enrolment_id, playbook))

    def clear_timer(self, key: str) -> None:
        self._timers.pop(key, None)
        self._timer_changes.append(ClearTimer(key))

    def mark_fired(self, key: str, *, at: datetime) -> None:
        old = self._timers.get(key)
        if old is not None:
            self._timers[key] = replace(old, fired_at=at)
        self._timer_changes.append(MarkFired(key, at))

    def record_date_trigger(self, playbook: str, occurrence: datetime, *, at: datetime) -> None:
        self._fired.setdefault(playbook, set()).add(occurrence)
        self._date_triggers.append(FiredDateTrigger(playbook, occurrence, at))

    def woke(self, due_at: datetime, *, fired_at: datetime) -> None:
        self._woken.append((due_at, fired_at))

    def record_fact(self, fact: Fact) -> None:
        self._facts.append(fact)

    def emit(self, commands: Iterable[Command]) -> None:
        self._commands += commands

    def changes(self) -> ChangeSet:
        return ChangeSet(
            account_id=self.account_id,
            profile=self._profile_change,
            tiers=tuple(self._tiers),
            activity=self.activity if self._activity_changed else None,
            enrolments=tuple(self._saved.values()),
            history=tuple(self._history),
            sends=tuple(self._new_sends),
            timers=tuple(self._timer_changes),
            date_triggers=tuple(self._date_triggers),
            fired=tuple(self._woken),
            commands=tuple(self._commands),
            facts=tuple(self._facts),
        )
