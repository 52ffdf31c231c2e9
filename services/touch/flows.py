"""The service layer: apply inputs to one account, fire its due timers, enrol, persist, make commands.

Every function here runs inside the caller's transaction with the account locked, so the
consumer, the timer loop and the API never advance the same account at the same time. Due timers,
a CSM's pause/resume/cancel and enrolments by hand (manual.py) load a snapshot of the account,
decide (decisions.py) and write the change set; inputs still read and write as they go (issue 18,
item 2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from touchline.shared import metrics
from touchline.shared.messages import Command

from .commands import command_for, needs_activity
from .decisions import Decisions, TouchConfig, status_change, timer_key
from .domain.activity import Activity
from .domain.changes import Account, ChangeSet
from .domain.engine import Advance, Enrolment, HistoryEntry, Send, on_signal, start
from .domain.playbook import Playbook, expand_signals
from .domain.signals import Input, apply_input, observe_activity
from .domain.tiers import Profile, TierAssignment, assign_tier
from .domain.triggers import (
    Eligibility,
    anchors_of,
    eligibility,
    enrolment_id,
    next_date_trigger,
)
from .ports import Repository, StoredTier

log = logging.getLogger(__name__)


_UNKNOWN: Any = object()


@dataclass
class _Seen:
    """What one apply() call already read of its (locked) account, so a batch of a hundred logins
    costs a handful of queries. ``forget`` after anything that writes enrolments or timers."""

    account_id: str
    profile: Profile | None = _UNKNOWN
    tier: StoredTier | None = None
    enrolments: list[Enrolment] | None = None
    earliest_due: datetime | None = _UNKNOWN
    activity: Activity | None = None
    activity_dirty: bool = False

    async def get_activity(self, repo: Repository) -> Activity:
        if self.activity is None:
            self.activity = await repo.get_activity(self.account_id)
        return self.activity

    async def flush_activity(self, repo: Repository) -> None:
        if self.activity is not None and self.activity_dirty:
            await repo.save_activity(self.account_id, self.activity)
            self.activity_dirty = False

    def forget(self, *, profile: Profile | None = _UNKNOWN) -> None:
        # The activity stays: only this call changes it, and it is flushed before timers fire.
        self.profile, self.tier, self.enrolments, self.earliest_due = profile, None, None, _UNKNOWN

    async def get_profile(self, repo: Repository) -> Profile | None:
        if self.profile is _UNKNOWN:
            self.profile = await repo.get_profile(self.account_id)
        return self.profile

    async def open_enrolments(self, repo: Repository) -> list[Enrolment]:
        if self.enrolments is None:
            self.enrolments = await repo.open_enrolments(self.account_id)
        return self.enrolments

    async def due_by(self, repo: Repository, at: datetime) -> bool:
        if self.earliest_due is _UNKNOWN:
            self.earliest_due = await repo.earliest_due(self.account_id)
        return self.earliest_due is not None and self.earliest_due <= at


class Flows:
    def __init__(self, config: TouchConfig) -> None:
        self.config = config
        self.decisions = Decisions(config)

    async def load(self, repo: Repository, account_id: str, *, sends_from: datetime) -> Account:
        """The locked account as the decisions see it; the message cap looks back from ``sends_from``
        (or from an earlier due timer, which fires as of its own time)."""
        cap = self.config.cap
        snapshot = await repo.load_account(account_id, sends_from=sends_from, cap_window=cap.per if cap else None)
        return Account(snapshot)

    async def write(self, repo: Repository, changes: ChangeSet) -> list[Command]:
        for due_at, fired_at in changes.fired:
            metrics.timer_fired(due_at=due_at, fired_at=fired_at)
        await repo.apply_changes(changes)
        return list(changes.commands)

    # --- inputs from the topics ---------------------------------------------------------------

    async def apply(
        self, repo: Repository, account_id: str, inputs: Sequence[Input], *, now: datetime
    ) -> list[Command]:
        """Apply inputs in time order; timers due before each input fire first, as of their own time."""
        await repo.lock_account(account_id)
        seen = _Seen(account_id)
        out: list[Command] = []
        for item in sorted(inputs, key=lambda i: i.at):
            at = min(item.at, now)
            if await seen.due_by(repo, at):
                await seen.flush_activity(repo)
                out += await self.fire_due(repo, account_id, until=at)
                seen.forget()
            may_start = now - item.at <= self.config.max_trigger_age
            out += await self._apply_one(repo, seen, item, at=at, now=now, may_start=may_start)
        await seen.flush_activity(repo)
        return out

    async def _apply_one(
        self, repo: Repository, seen: _Seen, item: Input, *, at: datetime, now: datetime, may_start: bool
    ) -> list[Command]:
        account_id = seen.account_id
        before = await seen.get_profile(repo)
        profile = apply_input(before, item, account_id=account_id, at=at)
        if profile != before:
            await repo.save_profile(profile, at=at)
            # From the clock's now, not the input's time: a backfilled event must not schedule a
            # trigger (NPS = first seen + 30 d) into the past, where its whole run would happen
            # at once with every wait already expired.
            await self._schedule_date_triggers(repo, profile, at=now)
            seen.forget(profile=profile)
        assignment = await self.retier(repo, profile, at=at, seen=seen)
        activity = await seen.get_activity(repo)
        changed, derived = observe_activity(activity, item, at=at, rules=self.config.usage)
        if changed != activity:
            seen.activity, seen.activity_dirty = changed, True
        signals = ([item.signal] if item.signal is not None else []) + derived
        out: list[Command] = []
        for signal in signals:
            own = (
                item
                if signal is item.signal
                else replace(item, signal=signal, source_id=f"{item.source_id}:{signal.name}")
            )
            out += await self._signal(repo, seen, own, profile, assignment, at=at, may_start=may_start)
        return out

    async def _signal(
        self,
        repo: Repository,
        seen: _Seen,
        item: Input,
        profile: Profile,
        assignment: TierAssignment,
        *,
        at: datetime,
        may_start: bool,
    ) -> list[Command]:
        """One signal to the account's open runs, then to the playbooks it triggers."""
        assert item.signal is not None
        out: list[Command] = []
        for e in await seen.open_enrolments(repo):
            playbook = self.config.playbooks.get(e.playbook)
            if playbook is None or (item.enrolment_id is not None and e.id != item.enrolment_id):
                continue
            signal = replace(item.signal, at=max(at, e.step_started_at or e.enrolled_at))
            sends = await self._recent(repo, seen.account_id, signal.at)
            adv = on_signal(playbook, e, signal, recent_sends=sends, cap=self.config.cap)
            if adv.state != e:
                out += await self._persist(repo, playbook, adv, profile=profile, at=signal.at, activity=seen.activity)
                seen.forget(profile=profile)
        for playbook in self.config.playbooks.values() if may_start else ():
            trigger = playbook.trigger.signal
            if trigger is not None and item.signal.name in expand_signals([trigger]):
                verdict, commands = await self.enrol(
                    repo, profile, assignment, playbook, at=at, cause=item.source_id, activity=seen.activity
                )
                out += commands
                if verdict.ok:
                    seen.forget(profile=profile)
        return out

    async def retier(
        self, repo: Repository, profile: Profile, *, at: datetime, seen: _Seen | None = None
    ) -> TierAssignment:
        assignment = assign_tier(profile, rules=self.config.rules, now=at)
        current = (assignment.tier, assignment.rule, assignment.phase, assignment.value)
        stored = seen.tier if seen is not None and seen.tier is not None else await repo.get_tier(profile.account_id)
        if stored is None or (stored.tier, stored.rule, stored.phase, stored.value) != current:
            await repo.save_tier(profile.account_id, assignment, at=at)
        if seen is not None:
            seen.tier = StoredTier(*current, assignment.reason, at)
        return assignment

    async def _schedule_date_triggers(self, repo: Repository, profile: Profile, *, at: datetime) -> None:
        dated = [p for p in self.config.playbooks.values() if p.trigger.date is not None]
        fired = await repo.fired_date_triggers(profile.account_id) if dated else {}
        for playbook in dated:
            key = f"trigger:{playbook.name}"
            due = next_date_trigger(playbook, profile, now=at, fired=fired.get(playbook.name, ()))
            if due is None:
                await repo.clear_timer(profile.account_id, key)
            else:
                await repo.set_timer(profile.account_id, key, due, playbook=playbook.name)

    # --- timers -------------------------------------------------------------------------------

    async def fire_due(self, repo: Repository, account_id: str, *, until: datetime) -> list[Command]:
        """Fire this account's timers due by ``until`` (the caller holds its lock), earliest first,
        each as of its own due time."""
        account = await self.load(repo, account_id, sends_from=until)
        self.decisions.fire_due(account, until=until)
        return await self.write(repo, account.changes())

    # --- enrolments ---------------------------------------------------------------------------

    async def enrol(
        self,
        repo: Repository,
        profile: Profile,
        assignment: TierAssignment,
        playbook: Playbook,
        *,
        at: datetime,
        cause: str,
        manual: bool = False,
        activity: Activity | None = None,
    ) -> tuple[Eligibility, list[Command]]:
        running = [e.playbook for e in await repo.open_enrolments(profile.account_id)]
        opened = [name for name in running if name == playbook.name]
        verdict = eligibility(
            playbook,
            tier=assignment.tier,
            phase=assignment.phase,
            has_open_run=bool(opened),
            last_enrolled_at=await repo.last_enrolled_at(profile.account_id, playbook.name),
            now=at,
            manual=manual,
            running=running,
            others_started={
                name: await repo.last_enrolled_at(profile.account_id, name) for name in playbook.trigger.unless_running
            },
        )
        if not verdict.ok:
            log.debug(
                "not enrolled", extra={"account": profile.account_id, "playbook": playbook.name, "why": verdict.reason}
            )
            return verdict, []
        eid = enrolment_id(profile.account_id, playbook.name, cause)
        if await repo.get_enrolment(eid) is not None:
            return Eligibility(False, "this trigger already enrolled the account"), []
        variant = playbook.variant_for(assignment.tier)
        assert variant is not None
        fresh = Enrolment(
            id=eid,
            account_id=profile.account_id,
            playbook=playbook.name,
            variant=variant[0],
            tier=assignment.tier,
            enrolled_at=at,
            anchors=anchors_of(profile, enrolled_at=at),
            manual=manual,
        )
        sends = await self._recent(repo, profile.account_id, at)
        adv = start(playbook, fresh, now=at, recent_sends=sends, cap=self.config.cap)
        why = f"{verdict.reason}; {assignment.reason}; cause {cause}"
        adv = replace(adv, history=(HistoryEntry("enrolled", 0, at, "enrolled", why), *adv.history))
        return verdict, await self._persist(repo, playbook, adv, profile=profile, at=at, activity=activity)

    async def set_status(self, repo: Repository, e: Enrolment, action: str, *, now: datetime, by: str) -> Enrolment:
        """pause / resume / cancel by a CSM; raises ValueError when the enrolment's status forbids it."""
        new, changes = status_change(e, action, now=now, by=by)
        await repo.apply_changes(changes)
        return new

    async def _recent(self, repo: Repository, account_id: str, at: datetime) -> tuple[datetime, ...]:
        if self.config.cap is None:
            return ()
        return await repo.recent_sends(account_id, since=at - self.config.cap.per)

    async def _persist(
        self,
        repo: Repository,
        playbook: Playbook,
        adv: Advance,
        *,
        profile: Profile | None,
        at: datetime,
        activity: Activity | None = None,
    ) -> list[Command]:
        e = adv.state
        await repo.save_enrolment(e, at=at)
        await repo.add_history(e.id, adv.history)
        if adv.wake_at is not None:
            await repo.set_timer(e.account_id, timer_key(e), adv.wake_at, enrolment_id=e.id)
        else:
            await repo.clear_timer(e.account_id, timer_key(e))
        if playbook.counts_towards_cap:
            await repo.record_sends(e.account_id, [(d.command_id, at) for d in adv.decisions if isinstance(d, Send)])
        traits = profile.traits if profile is not None else {}
        if activity is None and needs_activity(playbook, e, adv.decisions):
            activity = await repo.get_activity(e.account_id)
        commands = [command_for(playbook, e, d, traits=traits, at=at, activity=activity) for d in adv.decisions]
        # A feature survey needs features to offer: an account whose product reported no feature
        # use gets nothing rather than a survey nobody can answer (recorded on the run's history).
        unanswerable = [c for c in commands if c.variables.get("features") == []]
        if unanswerable:
            await repo.add_history(
                e.id,
                [
                    HistoryEntry(
                        c.step or "-", e.visits.get(c.step or "", 0), at, "skipped", "no feature use to ask about"
                    )
                    for c in unanswerable
                ],
            )
        return [c for c in commands if c not in unanswerable]
