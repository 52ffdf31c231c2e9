"""An in-memory fake of touch's Repository port, shared by the unit tests of the service layer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from touchline.touch.domain.activity import Activity
from touchline.touch.domain.changes import ChangeSet, ClearTimer, Fact, MarkFired, SetTimer, Snapshot, TimerRow
from touchline.touch.domain.effectiveness import AccountFact, CommandRecord, Inputs, RunRecord
from touchline.touch.domain.engine import Enrolment, HistoryEntry
from touchline.touch.domain.manual import KeyRecord
from touchline.touch.domain.tiers import Profile, StoredTier


class FakeRepo:
    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.tiers: dict[str, StoredTier] = {}
        self.enrolments: dict[str, Enrolment] = {}
        self.history: dict[str, list[HistoryEntry]] = {}
        self.sends: list[tuple[str, str, datetime]] = []
        self.timers: dict[tuple[str, str], TimerRow] = {}  # a fired timer is dropped
        self.locked: list[str] = []
        self.keys: dict[str, KeyRecord] = {}
        self.fired: dict[tuple[str, str], set[datetime]] = {}  # (account, playbook) -> date values
        self.activity: dict[str, Activity] = {}
        self.applied: list[ChangeSet] = []
        self.processed: set[str] = set()
        self.facts: list[tuple[str, Fact]] = []  # (account, fact)

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        fresh = set(ids) - self.processed
        self.processed |= fresh
        return fresh

    async def due_accounts(self, *, until: datetime, limit: int) -> list[str]:
        """Accounts with a timer due by ``until``, earliest first (PgRepository.due_accounts, the timer loop's)."""
        due: dict[str, datetime] = {}
        for (account_id, _), timer in self.timers.items():
            if timer.fired_at is None and timer.due_at <= until:
                due[account_id] = min(timer.due_at, due.get(account_id, timer.due_at))
        return sorted(due, key=lambda a: (due[a], a))[:limit]

    async def lock_account(self, account_id: str) -> None:
        self.locked.append(account_id)

    async def load_account(self, account_id: str, *, sends_from: datetime, cap_window: timedelta | None) -> Snapshot:
        runs = [e for e in self.enrolments.values() if e.account_id == account_id]
        last: dict[str, datetime] = {}
        for e in runs:
            last[e.playbook] = max(e.enrolled_at, last.get(e.playbook, e.enrolled_at))
        return Snapshot(
            account_id=account_id,
            profile=self.profiles.get(account_id),
            tier=self.tiers.get(account_id),
            activity=self.activity.get(account_id, Activity()),
            enrolments=tuple(sorted((e for e in runs if e.open), key=lambda e: (e.enrolled_at, e.id))),
            enrolment_ids=frozenset(e.id for e in runs),
            last_enrolled=last,
            sends=tuple((c, at) for a, c, at in self.sends if a == account_id),
            timers=tuple(t for (a, _), t in self.timers.items() if a == account_id),
            fired={p: frozenset(values) for (a, p), values in self.fired.items() if a == account_id},
        )

    async def load_accounts(
        self, account_ids: Sequence[str], *, sends_from: datetime, cap_window: timedelta | None
    ) -> dict[str, Snapshot]:
        return {a: await self.load_account(a, sends_from=sends_from, cap_window=cap_window) for a in account_ids}

    async def apply_change_sets(self, change_sets: Sequence[ChangeSet]) -> None:
        for changes in change_sets:
            await self.apply_changes(changes)

    async def apply_changes(self, changes: ChangeSet) -> None:
        self.applied.append(changes)
        account_id = changes.account_id
        if changes.profile is not None:
            self.profiles[account_id] = changes.profile[0]
        for a, at in changes.tiers:
            self.tiers[account_id] = StoredTier(a.tier, a.rule, a.phase, a.value, a.reason, at)
        if changes.activity is not None:
            self.activity[account_id] = changes.activity
        for e, _ in changes.enrolments:
            self.enrolments[e.id] = e
        for enrolment_id, entry in changes.history:
            self.history.setdefault(enrolment_id, []).append(entry)
        self.record_sends(account_id, changes.sends)
        for change in changes.timers:
            match change:
                case SetTimer(key, due_at, enrolment_id, playbook):
                    self.set_timer(account_id, key, due_at, enrolment_id=enrolment_id, playbook=playbook)
                case ClearTimer(key) | MarkFired(key):
                    self.timers.pop((account_id, key), None)
        for fired in changes.date_triggers:
            self.fired.setdefault((account_id, fired.playbook), set()).add(fired.occurrence)
        self.facts += [(account_id, f) for f in changes.facts]

    async def effectiveness_inputs(self, playbook: str) -> Inputs:
        """PgRepository.effectiveness_inputs over the fake's rows."""
        runs = sorted(
            (e for e in self.enrolments.values() if e.playbook == playbook), key=lambda e: (e.enrolled_at, e.id)
        )
        accounts = {e.account_id for e in runs}
        ids = {e.id for e in runs}
        reactions: dict[str, set[str]] = {}
        for _, f in self.facts:
            if f.command_id is not None and f.enrolment_id in ids:
                reactions.setdefault(f.command_id, set()).add(f.kind)
        return Inputs(
            runs=[
                RunRecord(
                    e.id, e.account_id, e.variant, e.tier, e.status == "held_out", e.manual, e.enrolled_at, e.baseline
                )
                for e in runs
            ],
            facts=[
                AccountFact(a, f.kind, f.at, f.value) for a, f in self.facts if f.command_id is None and a in accounts
            ],
            commands=[
                CommandRecord(e.id, h.step, h.event, h.command_id, frozenset(reactions.get(h.command_id, ())))
                for e in runs
                for h in self.history.get(e.id, [])
                if h.event in ("sent", "task") and h.command_id is not None
            ],
        )

    def record_sends(self, account_id: str, sends: Sequence[tuple[str, datetime]]) -> None:
        known = {c for _, c, _ in self.sends}
        self.sends += [(account_id, c, at) for c, at in sends if c not in known]

    def set_timer(
        self,
        account_id: str,
        key: str,
        due_at: datetime,
        *,
        enrolment_id: str | None = None,
        playbook: str | None = None,
    ) -> None:
        self.timers[(account_id, key)] = TimerRow(key, due_at, enrolment_id, playbook)

    async def get_enrolment(self, enrolment_id: str) -> Enrolment | None:
        return self.enrolments.get(enrolment_id)

    async def get_key(self, key: str) -> KeyRecord | None:
        return self.keys.get(key)

    async def save_key(self, record: KeyRecord) -> KeyRecord | None:
        if record.key in self.keys:
            return self.keys[record.key]
        self.keys[record.key] = record
        return None
