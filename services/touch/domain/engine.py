"""The playbook engine: (enrolment state, signal or wake-up, now) -> (new state, decisions).

Pure. An enrolment is advanced as far as it can go at ``now``: steps run one after another
until one has to wait (a duration, a date, a signal, or room under the message cap) or the
run ends. Every command gets an id derived from enrolment + step + visit, so advancing the
same state twice yields the same ids and notify drops the copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from .playbook import END, Playbook, Step, expand_signals

# held_out: the account was eligible but drawn into the playbook's holdout (domain/holdout.py):
# the run is recorded, ends at once and sends nothing.
Status = Literal["active", "paused", "completed", "exited", "cancelled", "held_out"]
MAX_HOPS = 200  # a run that passes this many steps without waiting is a loop in the playbook


@dataclass(frozen=True)
class Signal:
    """Something that happened to the account: an event, a health change, an outcome of a command."""

    name: str
    at: datetime
    answer: Mapping[str, Any] | None = None
    template: str | None = None
    user_id: str | None = None  # who acted (an answer's author), when known


@dataclass(frozen=True)
class Enrolment:
    id: str
    account_id: str
    playbook: str
    variant: str
    tier: str
    enrolled_at: datetime
    anchors: Mapping[str, datetime]  # dates the run's waits are relative to, captured at enrolment
    status: Status = "active"
    step: str | None = None
    step_started_at: datetime | None = None
    wake_at: datetime | None = None
    visits: Mapping[str, int] = field(default_factory=dict)
    seen: Mapping[str, datetime] = field(default_factory=dict)
    exiting: str | None = None  # the exit signal whose last steps are running
    ended_at: datetime | None = None
    end_reason: str | None = None
    manual: bool = False
    # survey -> its latest answer in this run (with ``answered_by``), the latest answered survey last
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # what the effectiveness report compares from: {"usage_per_day": ...} at enrolment
    baseline: Mapping[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.status in ("active", "paused")


@dataclass(frozen=True)
class Send:
    channel: str
    template: str
    to: str
    step: str
    visit: int
    command_id: str


@dataclass(frozen=True)
class OpenTask:
    task_type: str
    reason: str
    subject: str
    priority: str
    due_at: datetime | None
    step: str
    visit: int
    command_id: str


Decision = Send | OpenTask


@dataclass(frozen=True)
class HistoryEntry:
    step: str
    visit: int
    at: datetime
    event: str  # entered, sent, task, waiting, deferred, branch, timeout, completed, exited, ignored, skipped
    detail: str = ""
    command_id: str | None = None


@dataclass(frozen=True)
class MessageCap:
    """At most ``limit`` customer messages per ``per`` for one account, across playbooks."""

    limit: int
    per: timedelta

    def full_until(self, sends: Iterable[datetime], *, now: datetime) -> datetime | None:
        """When the account has room again if ``sends`` already fill the window ending ``now``; None
        while there is room. Playbook steps and newsletters ask the same question here."""
        window = [t for t in sends if now - self.per < t <= now]
        return min(window) + self.per if len(window) >= self.limit else None


@dataclass(frozen=True)
class Advance:
    state: Enrolment
    decisions: tuple[Decision, ...] = ()
    history: tuple[HistoryEntry, ...] = ()

    @property
    def wake_at(self) -> datetime | None:
        return self.state.wake_at if self.state.status == "active" else None


def command_id(enrolment_id: str, step: str, visit: int) -> str:
    return hashlib.sha256(f"{enrolment_id}|{step}|{visit}".encode()).hexdigest()[:32]


def start(
    playbook: Playbook,
    enrolment: Enrolment,
    *,
    now: datetime,
    recent_sends: tuple[datetime, ...] = (),
    cap: MessageCap | None = None,
) -> Advance:
    """Run a new enrolment from its first step."""
    first = playbook.steps_of(enrolment.variant)[0].id
    run = _Run(playbook, enrolment, now, list(recent_sends), cap)
    run.goto(first)
    return run.result()


def on_wake(
    playbook: Playbook,
    state: Enrolment,
    *,
    now: datetime,
    recent_sends: tuple[datetime, ...] = (),
    cap: MessageCap | None = None,
) -> Advance:
    """Time reached the enrolment's wake-up: finish the wait (or retry a deferred send)."""
    if state.status != "active" or state.wake_at is None or state.wake_at > now or state.step is None:
        return Advance(state)
    stale = _stale(playbook, state, now)
    if stale is not None:
        return stale
    run = _Run(playbook, state, now, list(recent_sends), cap)
    step = run.steps[state.step]
    if step.kind == "send":  # a send the message cap deferred: same visit, so the same command id
        nxt = run.execute(step, state.visits.get(step.id, 1))
        if nxt is not None:
            run.goto(nxt)
    elif step.kind == "wait_for":
        run.note(step, "timeout")
        run.goto(step.timeout or run.following(step))
    else:
        run.goto(run.following(step))
    return run.result()


def on_signal(
    playbook: Playbook,
    state: Enrolment,
    signal: Signal,
    *,
    recent_sends: tuple[datetime, ...] = (),
    cap: MessageCap | None = None,
) -> Advance:
    """A signal reached an open enrolment: record it, then take an exit or a wait_for branch."""
    if state.status != "active":
        return Advance(state)
    stale = _stale(playbook, state, signal.at)
    if stale is not None:
        return stale
    seen = dict(state.seen)
    seen.setdefault(signal.name, signal.at)
    answers = state.answers
    survey = (signal.answer or {}).get("survey")
    if isinstance(survey, str):
        given = dict(signal.answer or {}) | ({"answered_by": signal.user_id} if signal.user_id else {})
        answers = {**{k: v for k, v in answers.items() if k != survey}, survey: given}
    run = _Run(playbook, replace(state, seen=seen, answers=answers), signal.at, list(recent_sends), cap)
    for ex in playbook.exits:
        if signal.name in expand_signals([ex.signal]) and state.exiting is None:
            run.state = replace(run.state, exiting=ex.signal)
            if ex.goto is None:
                run.finish("exited", f"exit on {ex.signal}")
            else:
                run.goto(ex.goto)
            return run.result()
    step = run.steps.get(state.step or "")
    if step is not None and step.kind == "wait_for":
        for match in step.when:
            if signal.name in match.signals and answer_matches(match.answer, signal.answer):
                run.note(step, "branch", f"{signal.name} -> {match.goto}")
                run.goto(match.goto)
                break
    return run.result()


def _stale(playbook: Playbook, state: Enrolment, now: datetime) -> Advance | None:
    """A run whose variant or current step was removed from the playbook file ends, saying why."""
    steps = playbook.variants.get(state.variant)  # type: ignore[call-overload]
    if steps is not None and (state.step is None or any(s.id == state.step for s in steps)):
        return None
    missing = f"variant {state.variant}" if steps is None else f"step {state.step}"
    reason = f"playbook changed: {missing} no longer exists"
    ended = replace(state, status="exited", ended_at=now, end_reason=reason, wake_at=None)
    return Advance(ended, (), (HistoryEntry(state.step or END, 0, now, "exited", reason),))


def answer_matches(condition: Mapping[str, Any], answer: Mapping[str, Any] | None) -> bool:
    """``{key: value | [values] | {min, max} | null}``; null means the key is absent (a partial answer)."""
    if not condition:
        return True
    if answer is None:
        return False
    for key, want in condition.items():
        have = answer.get(key)
        if want is None:
            if have is not None:
                return False
        elif isinstance(want, list):
            if have not in want:
                return False
        elif isinstance(want, dict):
            if not isinstance(have, int | float) or isinstance(have, bool):
                return False
            if ("min" in want and have < want["min"]) or ("max" in want and have > want["max"]):
                return False
        elif have != want:
            return False
    return True


class _Run:
    """One advance of one enrolment: mutable while it runs, frozen into an Advance at the end."""

    def __init__(
        self, playbook: Playbook, state: Enrolment, now: datetime, sends: list[datetime], cap: MessageCap | None
    ) -> None:
        self.playbook = playbook
        self.order = playbook.steps_of(state.variant)
        self.steps = {s.id: s for s in self.order}
        self.state = state
        self.now = now
        self.sends = sends
        self.cap = cap
        self.decisions: list[Decision] = []
        self.history: list[HistoryEntry] = []
        self.hops = 0

    def result(self) -> Advance:
        return Advance(self.state, tuple(self.decisions), tuple(self.history))

    def following(self, step: Step) -> str:
        if step.next is not None:
            return step.next
        index = self.order.index(step)
        return self.order[index + 1].id if index + 1 < len(self.order) else END

    def note(self, step: Step, event: str, detail: str = "", command: str | None = None) -> None:
        visit = self.state.visits.get(step.id, 0)
        self.history.append(HistoryEntry(step.id, visit, self.now, event, detail, command))

    def finish(self, status: Status, reason: str) -> None:
        self.state = replace(self.state, status=status, ended_at=self.now, end_reason=reason, wake_at=None)
        self.history.append(HistoryEntry(self.state.step or END, 0, self.now, status, reason))

    def goto(self, target: str) -> None:
        while target != END:
            self.hops += 1
            if self.hops > MAX_HOPS:
                self.finish("exited", f"loop: more than {MAX_HOPS} steps without a wait")
                return
            step = self.steps[target]
            visit = self.state.visits.get(step.id, 0) + 1
            self.state = replace(
                self.state,
                step=step.id,
                step_started_at=self.now,
                wake_at=None,
                visits={**self.state.visits, step.id: visit},
            )
            nxt = self.execute(step, visit)
            if nxt is None:
                return
            target = nxt
        if self.state.exiting is not None:
            self.finish("exited", f"exit on {self.state.exiting}")
        else:
            self.finish("completed", "reached the end")

    def execute(self, step: Step, visit: int) -> str | None:
        """Do one step; return where to go next, or None when the run now waits."""
        if step.kind == "send":
            return self._send(step, visit)
        if step.kind == "task":
            cid = command_id(self.state.id, step.id, visit)
            due = self.now + step.due if step.due is not None else None
            assert step.task_type and step.reason and step.subject
            self.decisions.append(
                OpenTask(step.task_type, step.reason, step.subject, step.priority, due, step.id, visit, cid)
            )
            self.note(step, "task", f"{step.task_type}: {step.reason}", cid)
            return self.following(step)
        if step.kind in ("wait", "wait_for"):
            until = self._until(step)
            if until <= self.now:
                if step.kind == "wait_for":
                    self.note(step, "timeout", "already due")
                    return step.timeout or self.following(step)
                return self.following(step)
            self.state = replace(self.state, wake_at=until)
            self.note(step, "waiting", f"until {until.isoformat()}")
            return None
        if step.kind == "check":
            hit = [s for s in step.seen if s in self.state.seen]
            target = step.then if hit else step.otherwise
            self.note(step, "branch", f"seen {hit[0]}" if hit else "none seen")
            assert target is not None
            return target
        return END

    def _send(self, step: Step, visit: int) -> str | None:
        if self.cap is not None and self.playbook.counts_towards_cap:
            until = self.cap.full_until(self.sends, now=self.now)
            if until is not None:
                self.state = replace(self.state, wake_at=until)
                self.note(
                    step, "deferred", f"message cap {self.cap.limit} per {self.cap.per}; retry {until.isoformat()}"
                )
                return None
        cid = command_id(self.state.id, step.id, visit)
        assert step.channel and step.template
        self.decisions.append(Send(step.channel, step.template, step.to, step.id, visit, cid))
        self.sends.append(self.now)
        self.note(step, "sent", f"{step.channel} {step.template} to {step.to}", cid)
        return self.following(step)

    def _until(self, step: Step) -> datetime:
        if step.duration is not None:
            return (self.state.step_started_at or self.now) + step.duration
        assert step.until is not None
        base = self.state.anchors.get(step.until.attribute)
        if base is None:
            return self.now  # the date is unknown: do not hold the run forever
        return base + step.until.offset
