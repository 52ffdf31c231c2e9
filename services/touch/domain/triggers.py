"""When a playbook starts: date triggers' next instants, and whether an account may be enrolled."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .playbook import DATE_ATTRIBUTES, Playbook
from .tiers import Profile


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    reason: str


def one_shot_occurrence(playbook: Playbook, profile: Profile, *, at: datetime | None = None) -> datetime | None:
    """What to remember of a date trigger firing at ``at``, so it fires once per value: a one-shot
    trigger's date (e.g. renewal_date - 120d); for a recurring trigger with ``max_runs`` the instant
    it fired (``at``); None for an unbounded recurring trigger, another kind of trigger, or an
    unknown date."""
    trigger = playbook.trigger
    anchor = profile.date(trigger.date.attribute) if trigger.date is not None else None
    if trigger.date is None or anchor is None:
        return None
    if trigger.every is None:
        return anchor + trigger.date.offset
    return at if trigger.max_runs is not None else None


def _next_bounded_run(
    due: datetime, every: timedelta, max_runs: int, *, now: datetime, fired: Collection[datetime]
) -> datetime | None:
    """Runs of one date value: the first at ``due``, each next ``every`` after the one before, at
    most ``max_runs``. ``fired`` holds when runs fired; those at or after ``due`` are this value's
    (a new value, e.g. a later CSM contact, lies after all runs of the old one). A run overdue
    (learned late, an outage) fires at once, and the next comes ``every`` after it."""
    runs = sorted(f for f in fired if f >= due)
    if len(runs) >= max_runs:
        return None
    nxt = runs[-1] + every if runs else due
    return max(nxt, now)


def next_date_trigger(
    playbook: Playbook, profile: Profile, *, now: datetime, fired: Collection[datetime] = ()
) -> datetime | None:
    """The instant a date-triggered playbook should next start for this account, or None.

    A trigger before its date (renewal - 120d) learned late still fires at once while the date
    itself is ahead; one after its date (last contact + 120d) fires at once when overdue.
    A one-shot trigger fires once per date value: ``fired`` holds the values it already fired for
    (see ``one_shot_occurrence``), so a profile update that leaves the date alone does not arm an
    overdue trigger again, while a new date (the renewal moved a year on) does.
    A recurring trigger gives its first occurrence at or after ``now``; one with ``max_runs``
    (re-engagement while silent) fires for each of its runs once, as a one-shot trigger does.
    """
    trigger = playbook.trigger
    if trigger.date is None:
        return None
    anchor = profile.date(trigger.date.attribute)
    if anchor is None:
        return None
    due = anchor + trigger.date.offset
    if trigger.every is None and due in fired:
        return None
    if trigger.every is not None and trigger.max_runs is not None:
        return _next_bounded_run(due, trigger.every, trigger.max_runs, now=now, fired=fired)
    if trigger.every is not None:
        if due >= now:
            return due
        periods = math.ceil((now - due) / trigger.every)
        return due + periods * trigger.every
    if due >= now:
        return due
    if trigger.date.offset < timedelta(0) and anchor <= now:
        return None  # the date it prepares for has passed
    return now


def following_occurrence(playbook: Playbook, fired_at: datetime, *, now: datetime) -> datetime | None:
    """For a recurring trigger that just fired at ``fired_at`` (processed at ``now``): the next instant.

    After a long jump (or downtime) only the latest missed occurrence is caught up: five missed
    half-yearly surveys become one, not five in a row. (A trigger with ``max_runs`` is scheduled
    by ``next_date_trigger`` from the runs it already fired for.)
    """
    every = playbook.trigger.every
    if every is None:
        return None
    periods = max(1, math.floor((now - fired_at) / every))
    return fired_at + periods * every


def eligibility(
    playbook: Playbook,
    *,
    tier: str,
    phase: str,
    has_open_run: bool,
    last_enrolled_at: datetime | None,
    now: datetime,
    manual: bool = False,
    running: Collection[str] = (),
    others_started: Mapping[str, datetime | None] | None = None,
) -> Eligibility:
    """The caps and filters of enrolment. A CSM enrolling by hand skips phase and cooldown, not the one-run cap.

    ``running`` are the playbooks with an open run for the account; ``others_started`` when each
    ``unless_running`` playbook last started for it. A run of one of those that started within
    this playbook's cooldown blocks it too, finished or not: the account already got that kind of
    help (e.g. the risk mails) and is not sent it again a few days later."""
    if has_open_run:
        return Eligibility(False, "already running for this account")
    if playbook.variant_for(tier) is None:
        return Eligibility(False, f"no variant for tier {tier}")
    if manual:
        return Eligibility(True, "enrolled by hand")
    busy = [name for name in playbook.trigger.unless_running if name in running]
    if busy:
        return Eligibility(False, f"{busy[0]} is running for this account")
    for name, started in (others_started or {}).items():
        if name in playbook.trigger.unless_running and started is not None and now - started < playbook.cooldown:
            return Eligibility(False, f"{name} started for this account on {started.date().isoformat()}")
    phases = playbook.trigger.phases
    if phases and phase not in phases:
        return Eligibility(False, f"phase {phase} not in {'/'.join(phases)}")
    if not phases and phase == "churned":
        return Eligibility(False, "account churned")
    if last_enrolled_at is not None and now - last_enrolled_at < playbook.cooldown:
        return Eligibility(False, f"cooldown: last run started {last_enrolled_at.isoformat()}")
    return Eligibility(True, "eligible")


def enrolment_id(account_id: str, playbook: str, cause: str) -> str:
    """Deterministic, so a replayed trigger recreates the same enrolment and the same command ids."""
    return "enr_" + hashlib.sha256(f"{account_id}|{playbook}|{cause}".encode()).hexdigest()[:24]


def anchors_of(profile: Profile, *, enrolled_at: datetime) -> dict[str, datetime]:
    found = {a: profile.date(a) for a in DATE_ATTRIBUTES if a != "enrolled_at"}
    return {"enrolled_at": enrolled_at, **{k: v for k, v in found.items() if v is not None}}
