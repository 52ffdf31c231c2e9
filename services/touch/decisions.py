"""What touch decides for one account: inputs and due timers in, a change set out. No I/O.

Runs on an ``Account`` (domain/changes.py): the snapshot the service layer loaded under the
account's lock, plus what this call already decided, so every step sees the writes of the steps
before it without reading storage back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from . import crm_events
from .commands import command_for
from .domain.activity import UsageRules, usage_per_day
from .domain.book import book_facts
from .domain.changes import Account, ChangeSet, Snapshot
from .domain.engine import Advance, Enrolment, HistoryEntry, MessageCap, Send, on_signal, on_wake, start
from .domain.holdout import assign
from .domain.playbook import Playbook, expand_signals
from .domain.signals import Input, SignalThresholds, apply_input, facts_of, observe_activity
from .domain.tiers import Profile, TierAssignment, TierRules, assign_tier
from .domain.triggers import (
    Eligibility,
    anchors_of,
    eligibility,
    enrolment_id,
    following_occurrence,
    next_date_trigger,
    one_shot_occurrence,
)

log = logging.getLogger(__name__)
MAX_TIMERS_PER_CALL = 10_000


@dataclass(frozen=True)
class TouchConfig:
    rules: TierRules
    playbooks: Mapping[str, Playbook]
    cap: MessageCap | None = field(default_factory=lambda: MessageCap(limit=5, per=timedelta(days=7)))
    thresholds: SignalThresholds = field(default_factory=SignalThresholds)
    usage: UsageRules = field(default_factory=UsageRules)
    # Older inputs still update profiles and running runs, but start nothing: a backfill of last
    # year's "signed" events must not replay every onboarding mail at once.
    max_trigger_age: timedelta = timedelta(days=2)
    # The holdout share of a playbook whose file does not say (domain/holdout.py); 0 = none.
    holdout_default: float = 0.0
    # The effectiveness report: the days after a run's start it looks at, the fewest runs per group.
    effectiveness_days: int = 90
    effectiveness_min_accounts: int = 20
    # Band and tier changes as webhook commands for notify (crm_events.py); off unless a CRM listens.
    crm_webhooks: bool = False


def timer_key(enrolment: Enrolment) -> str:
    return f"enrolment:{enrolment.id}"


def status_change(e: Enrolment, action: str, *, now: datetime, by: str) -> tuple[Enrolment, ChangeSet]:
    """pause / resume / cancel by a CSM; raises ValueError when the enrolment's status forbids it."""
    allowed = {"pause": ("active",), "resume": ("paused",), "cancel": ("active", "paused")}[action]
    if e.status not in allowed:
        raise ValueError(f"cannot {action} an enrolment that is {e.status}")
    account = Account(Snapshot(e.account_id))  # decided on the enrolment alone
    if action == "pause":
        new = replace(e, status="paused")
        account.clear_timer(timer_key(e))
    elif action == "resume":
        wake = max(e.wake_at, now) if e.wake_at is not None else None
        new = replace(e, status="active", wake_at=wake)
        if wake is not None:
            account.set_timer(timer_key(e), wake, enrolment_id=e.id)
    else:
        new = replace(e, status="cancelled", ended_at=now, end_reason=f"cancelled by {by}", wake_at=None)
        account.clear_timer(timer_key(e))
    account.save_enrolment(new, at=now)
    event = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
    account.add_history(e.id, [HistoryEntry(e.step or "-", e.visits.get(e.step or "", 0), now, event, f"by {by}")])
    return new, account.changes()


class Decisions:
    def __init__(self, config: TouchConfig) -> None:
        self.config = config

    # --- inputs from the topics ---------------------------------------------------------------

    def apply(self, account: Account, inputs: Sequence[Input], *, now: datetime) -> None:
        """Apply inputs in time order; timers due before each input fire first, as of their own time."""
        for item in sorted(inputs, key=lambda i: i.at):
            at = min(item.at, now)
            due = account.earliest_due()
            if due is not None and due <= at:
                self.fire_due(account, until=at)
            may_start = now - item.at <= self.config.max_trigger_age
            self._apply_one(account, item, at=at, now=now, may_start=may_start)

    def _apply_one(self, account: Account, item: Input, *, at: datetime, now: datetime, may_start: bool) -> None:
        before = account.profile
        profile = apply_input(before, item, account_id=account.account_id, at=at)
        if profile != before:
            account.save_profile(profile, at=at)
            for fact in book_facts(before, profile, at=at):
                account.record_fact(fact)
            # From the clock's now, not the input's time: a backfilled event must not schedule a
            # trigger (NPS = first seen + 30 d) into the past, where its whole run would happen
            # at once with every wait already expired.
            self._schedule_date_triggers(account, profile, at=now)
        assignment = self.retier(account, profile, at=at)
        if self.config.crm_webhooks and item.band is not None:
            cause = item.source_id.removesuffix(":band")
            account.emit(
                [
                    crm_events.band_changed(
                        account_id=account.account_id,
                        cause=cause,
                        band=item.band,
                        previous=item.previous_band,
                        score=item.score,
                        at=at,
                    )
                ]
            )
        in_decline = account.activity.declined_at is not None
        changed, derived = observe_activity(account.activity, item, at=at, rules=self.config.usage)
        if changed != account.activity:
            account.save_activity(changed)
        signals = ([item.signal] if item.signal is not None else []) + derived
        for fact in facts_of(item, signals, in_decline=in_decline):
            account.record_fact(fact)
        for signal in signals:
            own = (
                item
                if signal is item.signal
                else replace(item, signal=signal, source_id=f"{item.source_id}:{signal.name}")
            )
            self._signal(account, own, profile, assignment, at=at, may_start=may_start)

    def _signal(
        self,
        account: Account,
        item: Input,
        profile: Profile,
        assignment: TierAssignment,
        *,
        at: datetime,
        may_start: bool,
    ) -> None:
        """One signal to the account's open runs, then to the playbooks it triggers."""
        assert item.signal is not None
        for e in account.open_enrolments():
            playbook = self.config.playbooks.get(e.playbook)
            if playbook is None or (item.enrolment_id is not None and e.id != item.enrolment_id):
                continue
            signal = replace(item.signal, at=max(at, e.step_started_at or e.enrolled_at))
            sends = self._recent(account, signal.at)
            adv = on_signal(playbook, e, signal, recent_sends=sends, cap=self.config.cap)
            if adv.state != e:
                self._persist(account, playbook, adv, profile=profile, at=signal.at)
        for playbook in self.config.playbooks.values() if may_start else ():
            trigger = playbook.trigger.signal
            if trigger is not None and item.signal.name in expand_signals([trigger]):
                self.enrol(account, profile, assignment, playbook, at=at, cause=item.source_id)

    def retier(self, account: Account, profile: Profile, *, at: datetime) -> TierAssignment:
        assignment = assign_tier(profile, rules=self.config.rules, now=at)
        current = (assignment.tier, assignment.rule, assignment.phase, assignment.value)
        stored = account.tier
        if stored is None or (stored.tier, stored.rule, stored.phase, stored.value) != current:
            account.save_tier(assignment, at=at)
            if self.config.crm_webhooks and (stored is None or stored.tier != assignment.tier):
                change = crm_events.tier_changed(
                    account_id=account.account_id,
                    tier=assignment.tier,
                    previous=stored.tier if stored else None,
                    phase=assignment.phase,
                    reason=assignment.reason,
                    at=at,
                )
                account.emit([change])
        return assignment

    def _schedule_date_triggers(self, account: Account, profile: Profile, *, at: datetime) -> None:
        dated = [p for p in self.config.playbooks.values() if p.trigger.date is not None]
        fired = account.fired_date_triggers() if dated else {}
        for playbook in dated:
            key = f"trigger:{playbook.name}"
            due = next_date_trigger(playbook, profile, now=at, fired=fired.get(playbook.name, ()))
            if due is None:
                account.clear_timer(key)
            else:
                account.set_timer(key, due, playbook=playbook.name)

    # --- timers -------------------------------------------------------------------------------

    def fire_due(self, account: Account, *, until: datetime) -> None:
        """Fire the account's timers due by ``until``, earliest first, each as of its own due time."""
        previous = None
        for _ in range(MAX_TIMERS_PER_CALL):
            timer = account.next_due(until=until)
            if timer is None:
                break
            if timer == previous:  # firing it changed nothing: spinning here would hide the bug
                raise RuntimeError(f"timer {timer.key} of {account.account_id} due {timer.due_at} did not advance")
            previous = timer
            account.woke(timer.due_at, fired_at=until)
            if timer.enrolment_id is not None:
                self._wake(account, timer.key, timer.enrolment_id, at=timer.due_at)
            elif timer.playbook is not None:
                account.mark_fired(timer.key, at=timer.due_at)
                self._date_trigger(account, timer.playbook, at=timer.due_at, now=until)

    def _wake(self, account: Account, key: str, enrolment: str, *, at: datetime) -> None:
        """Advance the enrolment the timer belongs to; persisting it sets or clears its timer."""
        e = account.enrolment(enrolment)
        playbook = self.config.playbooks.get(e.playbook) if e is not None else None
        if e is None or playbook is None or e.status != "active":
            account.clear_timer(key)
            return
        sends = self._recent(account, at)
        adv = on_wake(playbook, e, now=at, recent_sends=sends, cap=self.config.cap)
        self._persist(account, playbook, adv, profile=account.profile, at=at)

    def _date_trigger(self, account: Account, name: str, *, at: datetime, now: datetime) -> None:
        playbook = self.config.playbooks.get(name)
        profile = account.profile
        if playbook is None or profile is None:
            return
        occurrence = one_shot_occurrence(playbook, profile, at=at)
        if occurrence is not None:
            # Remembered whether or not the account is enrolled now: the trigger had its turn for
            # this date, and an overdue one would otherwise be armed again by the next profile update.
            account.record_date_trigger(name, occurrence, at=at)
        if playbook.trigger.max_runs is not None:
            fired = account.fired_date_triggers().get(name, set())
            # As of the run that just fired: after a long jump each run still fires on its own day.
            nxt = next_date_trigger(playbook, profile, now=at, fired=fired)
        else:
            nxt = following_occurrence(playbook, at, now=now)
        if nxt is not None:
            account.set_timer(f"trigger:{name}", nxt, playbook=name)
        assignment = self.retier(account, profile, at=at)
        self.enrol(account, profile, assignment, playbook, at=at, cause=f"date:{at.isoformat()}")

    # --- enrolments ---------------------------------------------------------------------------

    def enrol(
        self,
        account: Account,
        profile: Profile,
        assignment: TierAssignment,
        playbook: Playbook,
        *,
        at: datetime,
        cause: str,
        manual: bool = False,
    ) -> Eligibility:
        running = [e.playbook for e in account.open_enrolments()]
        opened = [name for name in running if name == playbook.name]
        verdict = eligibility(
            playbook,
            tier=assignment.tier,
            phase=assignment.phase,
            has_open_run=bool(opened),
            last_enrolled_at=account.last_enrolled_at(playbook.name),
            now=at,
            manual=manual,
            running=running,
            others_started={name: account.last_enrolled_at(name) for name in playbook.trigger.unless_running},
        )
        if not verdict.ok:
            log.debug(
                "not enrolled", extra={"account": profile.account_id, "playbook": playbook.name, "why": verdict.reason}
            )
            return verdict
        eid = enrolment_id(profile.account_id, playbook.name, cause)
        if account.has_enrolment(eid):
            return Eligibility(False, "this trigger already enrolled the account")
        variant = playbook.variant_for(assignment.tier)
        assert variant is not None
        share = playbook.holdout_share(variant[0], default=self.config.holdout_default)
        holdout = assign(
            account_id=profile.account_id,
            playbook=playbook.name,
            tier=assignment.tier,
            share=share,
            at=at,
            manual=manual,
        )
        fresh = Enrolment(
            id=eid,
            account_id=profile.account_id,
            playbook=playbook.name,
            variant=variant[0],
            tier=assignment.tier,
            enrolled_at=at,
            anchors=anchors_of(profile, enrolled_at=at),
            manual=manual,
            baseline={
                "usage_per_day": usage_per_day(account.activity, at=at),
                "in_decline": account.activity.declined_at is not None,  # usage recovery is measured for these
            },
        )
        why = f"{verdict.reason}; {assignment.reason}; {holdout.reason}; cause {cause}"
        if holdout.held_out:
            # Recorded like a run (the cooldown counts from it, as it would from a real run, so both
            # groups are triggered alike) and ended at once: nothing is sent, no task is opened.
            held = replace(fresh, status="held_out", ended_at=at, end_reason=holdout.reason)
            account.save_enrolment(held, at=at)
            account.add_history(held.id, [HistoryEntry("enrolled", 0, at, "held_out", why)])
            return verdict
        sends = self._recent(account, at)
        adv = start(playbook, fresh, now=at, recent_sends=sends, cap=self.config.cap)
        adv = replace(adv, history=(HistoryEntry("enrolled", 0, at, "enrolled", why), *adv.history))
        self._persist(account, playbook, adv, profile=profile, at=at)
        return verdict

    def _recent(self, account: Account, at: datetime) -> tuple[datetime, ...]:
        if self.config.cap is None:
            return ()
        return account.recent_sends(since=at - self.config.cap.per)

    def _persist(
        self, account: Account, playbook: Playbook, adv: Advance, *, profile: Profile | None, at: datetime
    ) -> None:
        e = adv.state
        account.save_enrolment(e, at=at)
        account.add_history(e.id, adv.history)
        if adv.wake_at is not None:
            account.set_timer(timer_key(e), adv.wake_at, enrolment_id=e.id)
        else:
            account.clear_timer(timer_key(e))
        if playbook.counts_towards_cap:
            account.record_sends([(d.command_id, at) for d in adv.decisions if isinstance(d, Send)])
        traits = profile.traits if profile is not None else {}
        commands = [command_for(playbook, e, d, traits=traits, at=at, activity=account.activity) for d in adv.decisions]
        # A feature survey needs features to offer: an account whose product reported no feature
        # use gets nothing rather than a survey nobody can answer (recorded on the run's history).
        unanswerable = [c for c in commands if c.variables.get("features") == []]
        account.add_history(
            e.id,
            [
                HistoryEntry(c.step or "-", e.visits.get(c.step or "", 0), at, "skipped", "no feature use to ask about")
                for c in unanswerable
            ],
        )
        account.emit(c for c in commands if c not in unanswerable)
