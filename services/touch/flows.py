"""The service layer: apply inputs to one account, fire its due timers, enrol, persist, make commands.

Every function here runs inside the caller's transaction with the account locked, so the
consumer, the timer loop and the API never advance the same account at the same time.
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
from .decisions import MAX_TIMERS_PER_CALL, TouchConfig, timer_key
from .domain.activity import Activity
from .domain.engine import Advance, Enrolment, HistoryEntry, Send, on_signal, on_wake, start
from .domain.playbook import Playbook, expand_signals
from .domain.signals import Input, apply_input, observe_activity
from .domain.tiers import Profile, TierAssignment, assign_tier
from .domain.triggers import (
    Eligibility,
    anchors_of,
    eligibility,
    enrolment_id,
    following_occurrence,
    next_date_trigger,
    one_shot_occurrence,
)
from .ports import DueTimer, Repository, StoredTier

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
        """Fire this account's timers due by ``until``, earliest first, each as of its own due time."""
        out: list[Command] = []
        previous: DueTimer | None = None
        for _ in range(MAX_TIMERS_PER_CALL):
            timer = await repo.next_due(account_id, until=until)
            if timer is None:
                break
            if timer == previous:  # firing it changed nothing: spinning here would hide the bug
                raise RuntimeError(f"timer {timer.key} of {account_id} due {timer.due_at} did not advance")
            previous = timer
            metrics.timer_fired(due_at=timer.due_at, fired_at=until)
            if timer.enrolment_id is not None:
                out += await self._wake(repo, timer, at=timer.due_at)
            elif timer.playbook is not None:
                await repo.mark_fired(account_id, timer.key, at=timer.due_at)
                out += await self._date_trigger(repo, account_id, timer.playbook, at=timer.due_at, now=until)
        return out

    async def _wake(self, repo: Repository, timer: DueTimer, *, at: datetime) -> list[Command]:
        """Advance the enrolment the timer belongs to; persisting it sets or clears its timer."""
        e = await repo.get_enrolment(timer.enrolment_id or "")
        playbook = self.config.playbooks.get(e.playbook) if e is not None else None
        if e is None or playbook is None or e.status != "active":
            await repo.clear_timer(timer.account_id, timer.key)
            return []
        profile = await repo.get_profile(e.account_id)
        sends = await self._recent(repo, e.account_id, at)
        adv = on_wake(playbook, e, now=at, recent_sends=sends, cap=self.config.cap)
        return await self._persist(repo, playbook, adv, profile=profile, at=at)

    async def _date_trigger(
        self, repo: Repository, account_id: str, name: str, *, at: datetime, now: datetime
    ) -> list[Command]:
        playbook = self.config.playbooks.get(name)
        profile = await repo.get_profile(account_id)
        if playbook is None or profile is None:
            return []
        occurrence = one_shot_occurrence(playbook, profile, at=at)
        if occurrence is not None:
            # Remembered whether or not the account is enrolled now: the trigger had its turn for
            # this date, and an overdue one would otherwise be armed again by the next profile update.
            await repo.record_date_trigger(account_id, name, occurrence, at=at)
        if playbook.trigger.max_runs is not None:
            fired = (await repo.fired_date_triggers(account_id)).get(name, set())
            # As of the run that just fired: after a long jump each run still fires on its own day.
            nxt = next_date_trigger(playbook, profile, now=at, fired=fired)
        else:
            nxt = following_occurrence(playbook, at, now=now)
        if nxt is not None:
            await repo.set_timer(account_id, f"trigger:{name}", nxt, playbook=name)
        assignment = await self.retier(repo, profile, at=at)
        _, commands = await self.enrol(repo, profile, assignment, playbook, at=at, cause=f"date:{at.isoformat()}")
        return commands

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
        allowed = {"pause": ("active",), "resume": ("paused",), "cancel": ("active", "paused")}[action]
        if e.status not in allowed:
            raise ValueError(f"cannot {action} an enrolment that is {e.status}")
        if action == "pause":
            new = replace(e, status="paused")
            await repo.clear_timer(e.account_id, timer_key(e))
        elif action == "resume":
            wake = max(e.wake_at, now) if e.wake_at is not None else None
            new = replace(e, status="active", wake_at=wake)
            if wake is not None:
                await repo.set_timer(e.account_id, timer_key(e), wake, enrolment_id=e.id)
        else:
            new = replace(e, status="cancelled", ended_at=now, end_reason=f"cancelled by {by}", wake_at=None)
            await repo.clear_timer(e.account_id, timer_key(e))
        await repo.save_enrolment(new, at=now)
        event = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
        await repo.add_history(
            e.id, [HistoryEntry(e.step or "-", e.visits.get(e.step or "", 0), now, event, f"by {by}")]
        )
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
