"""The touch repository on Postgres: profiles, tiers, enrolments, history, the message cap,
timers and fired date triggers, manual-enrolment keys. Never commits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.db import first_seen

from ..domain.activity import Activity
from ..domain.changes import ChangeSet, ClearTimer, MarkFired, SetTimer, Snapshot, TimerChange, TimerRow
from ..domain.effectiveness import AccountFact, CommandRecord, Inputs, RunRecord
from ..domain.engine import Enrolment, HistoryEntry
from ..domain.manual import KeyRecord, ManualRequest
from ..domain.tiers import Profile, StoredTier, TierAssignment

_SET_TIMER = text(
    """INSERT INTO touch.timers (account_id, key, due_at, enrolment_id, playbook)
    VALUES (:a, :k, :d, :e, :p)
    ON CONFLICT (account_id, key) DO UPDATE SET due_at = EXCLUDED.due_at,
        enrolment_id = EXCLUDED.enrolment_id, playbook = EXCLUDED.playbook,
        fired_at = CASE WHEN touch.timers.due_at = EXCLUDED.due_at THEN touch.timers.fired_at END"""
)
_CLEAR_TIMER = text("DELETE FROM touch.timers WHERE account_id = :a AND key = :k")
_MARK_FIRED = text("UPDATE touch.timers SET fired_at = :at WHERE account_id = :a AND key = :k")

# Due timers looked at per account claimed: room for several replicas' batches side by side.
_CLAIM_WINDOW = 8

# Sends after this are never asked for: an account's snapshot without a message cap holds none.
_NO_SENDS = datetime.max.replace(tzinfo=UTC)


def _dates(raw: dict[str, str] | None) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in (raw or {}).items()}


def _iso(values: Any) -> str:
    return json.dumps({k: v.isoformat() for k, v in values.items()})


class PgRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        # The handler reports the duplicates as skipped (shared/fates.py): not counted here as well.
        return await first_seen(self.conn, "touch", ids, now=now, counted=False)

    async def lock_account(self, account_id: str) -> None:
        """Serialise everything about one account (consumer, timer loop, API) for this transaction."""
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:a, 7))"), {"a": account_id})

    # --- one account's snapshot, and the change set decided on it ---------------------------

    async def load_account(self, account_id: str, *, sends_from: datetime, cap_window: timedelta | None) -> Snapshot:
        """Call with the account locked: nothing else changes its rows until the transaction ends."""
        snapshots = await self.load_accounts([account_id], sends_from=sends_from, cap_window=cap_window)
        return snapshots[account_id]

    async def load_accounts(
        self, account_ids: Sequence[str], *, sends_from: datetime, cap_window: timedelta | None
    ) -> dict[str, Snapshot]:
        """Several locked accounts' snapshots in one query per table (the timer loop's batch); one
        account's is the same read (``load_account`` is this with one id)."""
        ids = list(dict.fromkeys(account_ids))
        by_id = {"a": ids}
        rows = {
            r.account_id: r
            for r in await self.conn.execute(text("SELECT * FROM touch.accounts WHERE account_id = ANY(:a)"), by_id)
        }
        every_run: dict[str, set[str]] = {a: set() for a in ids}
        last_enrolled: dict[str, dict[str, datetime]] = {a: {} for a in ids}
        open_runs: dict[str, list[Enrolment]] = {a: [] for a in ids}
        runs = await self.conn.execute(
            text("SELECT * FROM touch.enrolments WHERE account_id = ANY(:a) ORDER BY enrolled_at, id"), by_id
        )
        for r in runs:
            every_run[r.account_id].add(r.id)
            latest = last_enrolled[r.account_id]
            if r.playbook not in latest or r.enrolled_at > latest[r.playbook]:
                latest[r.playbook] = r.enrolled_at
            if r.status in ("active", "paused"):
                open_runs[r.account_id].append(_enrolment(r))
        timers: dict[str, list[TimerRow]] = {a: [] for a in ids}
        for r in await self.conn.execute(
            text(
                """SELECT account_id, key, due_at, enrolment_id, playbook, fired_at FROM touch.timers
                WHERE account_id = ANY(:a)"""
            ),
            by_id,
        ):
            timers[r.account_id].append(TimerRow(r.key, r.due_at, r.enrolment_id, r.playbook, r.fired_at))
        sends_since: dict[str, datetime] = {}
        sends: dict[str, list[tuple[str, datetime]]] = {a: [] for a in ids}
        for a in ids:
            # A timer fires as of its own due time, and the cap looks back from there.
            unfired = [t.due_at for t in timers[a] if t.fired_at is None]
            sends_since[a] = _NO_SENDS if cap_window is None else min([sends_from, *unfired]) - cap_window
        if cap_window is not None:
            for r in await self.conn.execute(
                text(
                    """SELECT m.account_id, m.command_id, m.at FROM touch.customer_messages m
                    JOIN unnest(CAST(:a AS text[]), CAST(:s AS timestamptz[])) AS w(account_id, since)
                        ON m.account_id = w.account_id AND m.at > w.since"""
                ),
                {"a": ids, "s": [sends_since[a] for a in ids]},
            ):
                sends[r.account_id].append((r.command_id, r.at))
        activity = {
            r.account_id: r.data
            for r in await self.conn.execute(
                text("SELECT account_id, data FROM touch.activity WHERE account_id = ANY(:a)"), by_id
            )
        }
        fired: dict[str, dict[str, set[datetime]]] = {a: {} for a in ids}
        for r in await self.conn.execute(
            text("SELECT account_id, playbook, occurrence FROM touch.date_triggers_fired WHERE account_id = ANY(:a)"),
            by_id,
        ):
            fired[r.account_id].setdefault(r.playbook, set()).add(r.occurrence)
        return {
            a: Snapshot(
                account_id=a,
                profile=_profile(rows[a]) if a in rows else None,
                tier=_tier(rows[a]) if a in rows else None,
                activity=Activity.from_dict(activity.get(a)),
                enrolments=tuple(open_runs[a]),
                enrolment_ids=frozenset(every_run[a]),
                last_enrolled=last_enrolled[a],
                sends=tuple(sends[a]),
                sends_since=sends_since[a],
                timers=tuple(timers[a]),
                fired={name: frozenset(values) for name, values in fired[a].items()},
            )
            for a in ids
        }

    async def apply_changes(self, changes: ChangeSet) -> None:
        await self.apply_change_sets([changes])

    async def apply_change_sets(self, change_sets: Sequence[ChangeSet]) -> None:
        """Write several accounts' change sets, one statement per kind of row for all of them (the
        timer loop's batch); each account's rows in the order it decided them (``apply_changes``
        is this with one change set)."""
        profiles = [(c.profile[0], c.profile[1]) for c in change_sets if c.profile is not None]
        if profiles:  # first: a new account's tier is written onto its row
            await self.save_profiles(profiles)
        tiers = [(c.account_id, assignment, at) for c in change_sets for assignment, at in c.tiers]
        if tiers:
            await self.save_tiers(tiers)
        activities = [(c.account_id, c.activity) for c in change_sets if c.activity is not None]
        if activities:
            await self.save_activities(activities)
        enrolments = [(e, at) for c in change_sets for e, at in c.enrolments]
        if enrolments:
            await self.save_enrolments(enrolments)
        await self.add_histories([(enrolment_id, h) for c in change_sets for enrolment_id, h in c.history])
        await self.record_sends_of([(c.account_id, command_id, at) for c in change_sets for command_id, at in c.sends])
        await self.apply_timer_changes([(c.account_id, c.timers) for c in change_sets])
        fired = [(c.account_id, f.playbook, f.occurrence, f.at) for c in change_sets for f in c.date_triggers]
        await self.record_date_triggers(fired)
        facts = [(c.account_id, f) for c in change_sets for f in c.facts]
        if facts:
            await self.conn.execute(
                text(
                    """INSERT INTO touch.facts (account_id, kind, at, value, command_id, enrolment_id, label)
                    VALUES (:a, :k, :at, :v, :c, :e, :l)"""
                ),
                [
                    {
                        "a": a,
                        "k": f.kind,
                        "at": f.at,
                        "v": f.value,
                        "c": f.command_id,
                        "e": f.enrolment_id,
                        "l": f.label,
                    }
                    for a, f in facts
                ],
            )

    # --- profiles and tiers -------------------------------------------------------------------

    async def get_profile(self, account_id: str) -> Profile | None:
        row = (
            await self.conn.execute(text("SELECT * FROM touch.accounts WHERE account_id = :a"), {"a": account_id})
        ).first()
        return _profile(row) if row is not None else None

    async def save_profile(self, profile: Profile, *, at: datetime) -> None:
        await self.save_profiles([(profile, at)])

    async def save_profiles(self, profiles: Sequence[tuple[Profile, datetime]]) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO touch.accounts (account_id, traits, first_seen_at, churned, last_csm_contact_at, updated_at)
                VALUES (:a, CAST(:t AS jsonb), :f, :c, :l, :u)
                ON CONFLICT (account_id) DO UPDATE SET traits = EXCLUDED.traits, churned = EXCLUDED.churned,
                    last_csm_contact_at = EXCLUDED.last_csm_contact_at, updated_at = EXCLUDED.updated_at"""
            ),
            [
                {
                    "a": profile.account_id,
                    "t": json.dumps(profile.traits, default=str),
                    "f": profile.first_seen_at,
                    "c": profile.churned,
                    "l": profile.last_csm_contact_at,
                    "u": at,
                }
                for profile, at in profiles
            ],
        )

    async def get_activity(self, account_id: str) -> Activity:
        row = (
            await self.conn.execute(text("SELECT data FROM touch.activity WHERE account_id = :a"), {"a": account_id})
        ).first()
        return Activity.from_dict(row.data if row is not None else None)

    async def save_activity(self, account_id: str, activity: Activity) -> None:
        await self.save_activities([(account_id, activity)])

    async def save_activities(self, activities: Sequence[tuple[str, Activity]]) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO touch.activity (account_id, data) VALUES (:a, CAST(:d AS jsonb))
                ON CONFLICT (account_id) DO UPDATE SET data = EXCLUDED.data"""
            ),
            [{"a": account_id, "d": json.dumps(activity.to_dict())} for account_id, activity in activities],
        )

    async def get_tier(self, account_id: str) -> StoredTier | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT tier, tier_rule, tier_phase, tier_value, tier_reason, tier_at FROM touch.accounts WHERE account_id = :a"
                ),
                {"a": account_id},
            )
        ).first()
        return _tier(row) if row is not None else None

    async def save_tier(self, account_id: str, assignment: TierAssignment, *, at: datetime) -> None:
        await self.save_tiers([(account_id, assignment, at)])

    async def save_tiers(self, tiers: Sequence[tuple[str, TierAssignment, datetime]]) -> None:
        """Each account's tier changes in the order given: the last is its tier, all are history."""
        values = [
            {
                "a": account_id,
                "tier": assignment.tier,
                "rule": assignment.rule,
                "phase": assignment.phase,
                "value": assignment.value,
                "reason": assignment.reason,
                "at": at,
            }
            for account_id, assignment, at in tiers
        ]
        await self.conn.execute(
            text(
                """UPDATE touch.accounts SET tier = :tier, tier_rule = :rule, tier_phase = :phase, tier_value = :value,
                tier_reason = :reason, tier_at = :at WHERE account_id = :a"""
            ),
            values,
        )
        await self.conn.execute(
            text(
                """INSERT INTO touch.tier_history (account_id, tier, rule, phase, value, reason, at)
                VALUES (:a, :tier, :rule, :phase, :value, :reason, :at)"""
            ),
            values,
        )

    async def list_accounts(
        self,
        *,
        tier: str | None,
        phase: str | None,
        owner: str | None,
        search: str | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """Accounts with their tier for the console's filters, by name then id."""
        rows = await self.conn.execute(
            text(
                """SELECT account_id, traits->>'name' AS name, tier, tier_phase AS phase, tier_reason AS reason,
                    traits->>'csm_owner' AS owner, traits->>'renewal_date' AS renewal_date, tier_value AS value
                FROM touch.accounts
                WHERE (CAST(:tier AS text) IS NULL OR tier = :tier)
                  AND (CAST(:phase AS text) IS NULL OR tier_phase = :phase)
                  AND (CAST(:owner AS text) IS NULL OR lower(traits->>'csm_owner') = lower(:owner))
                  AND (CAST(:q AS text) IS NULL OR account_id ILIKE :like ESCAPE '\\' OR traits->>'name' ILIKE :like ESCAPE '\\')
                ORDER BY traits->>'name' NULLS LAST, account_id LIMIT :n OFFSET :o"""
            ),
            {
                "tier": tier,
                "phase": phase,
                "owner": owner,
                "q": search,
                "like": f"%{like_escaped(search)}%" if search else None,
                "n": limit,
                "o": offset,
            },
        )
        return [dict(r._mapping) for r in rows]

    async def tier_history(self, account_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            text(
                "SELECT tier, rule, phase, value, reason, at FROM touch.tier_history WHERE account_id = :a ORDER BY id DESC LIMIT :n"
            ),
            {"a": account_id, "n": limit},
        )
        return [dict(r._mapping) for r in rows]

    # --- enrolments ---------------------------------------------------------------------------

    async def open_enrolments(self, account_id: str) -> list[Enrolment]:
        rows = await self.conn.execute(
            text(
                "SELECT * FROM touch.enrolments WHERE account_id = :a AND status IN ('active', 'paused') ORDER BY enrolled_at, id"
            ),
            {"a": account_id},
        )
        return [_enrolment(r) for r in rows]

    async def enrolments(self, account_id: str) -> list[Enrolment]:
        rows = await self.conn.execute(
            text("SELECT * FROM touch.enrolments WHERE account_id = :a ORDER BY enrolled_at DESC, id"),
            {"a": account_id},
        )
        return [_enrolment(r) for r in rows]

    async def get_enrolment(self, enrolment_id: str) -> Enrolment | None:
        row = (
            await self.conn.execute(text("SELECT * FROM touch.enrolments WHERE id = :i"), {"i": enrolment_id})
        ).first()
        return _enrolment(row) if row is not None else None

    async def save_enrolment(self, e: Enrolment, *, at: datetime) -> None:
        await self.save_enrolments([(e, at)])

    async def save_enrolments(self, enrolments: Sequence[tuple[Enrolment, datetime]]) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO touch.enrolments (id, account_id, playbook, variant, tier, status, step, step_started_at,
                    wake_at, visits, seen, anchors, answers, exiting, manual, enrolled_at, ended_at, end_reason,
                    updated_at, baseline)
                VALUES (:id, :account, :playbook, :variant, :tier, :status, :step, :started, :wake,
                    CAST(:visits AS jsonb), CAST(:seen AS jsonb), CAST(:anchors AS jsonb), CAST(:answers AS jsonb),
                    :exiting, :manual, :enrolled, :ended, :reason, :at, CAST(:baseline AS jsonb))
                ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, step = EXCLUDED.step,
                    step_started_at = EXCLUDED.step_started_at, wake_at = EXCLUDED.wake_at, visits = EXCLUDED.visits,
                    seen = EXCLUDED.seen, answers = EXCLUDED.answers, exiting = EXCLUDED.exiting, ended_at = EXCLUDED.ended_at,
                    end_reason = EXCLUDED.end_reason, updated_at = EXCLUDED.updated_at"""
            ),
            [
                {
                    "id": e.id,
                    "account": e.account_id,
                    "playbook": e.playbook,
                    "variant": e.variant,
                    "tier": e.tier,
                    "status": e.status,
                    "step": e.step,
                    "started": e.step_started_at,
                    "wake": e.wake_at,
                    "visits": json.dumps(dict(e.visits)),
                    "seen": _iso(e.seen),
                    "anchors": _iso(e.anchors),
                    "answers": json.dumps({k: dict(v) for k, v in e.answers.items()}, default=str),
                    "exiting": e.exiting,
                    "manual": e.manual,
                    "enrolled": e.enrolled_at,
                    "ended": e.ended_at,
                    "reason": e.end_reason,
                    "at": at,
                    "baseline": json.dumps(dict(e.baseline), default=str),
                }
                for e, at in enrolments
            ],
        )

    async def add_history(self, enrolment_id: str, entries: Sequence[HistoryEntry]) -> None:
        await self.add_histories([(enrolment_id, h) for h in entries])

    async def add_histories(self, entries: Sequence[tuple[str, HistoryEntry]]) -> None:
        """(enrolment id, entry) pairs, inserted in the order given (a run's history reads by id)."""
        if not entries:
            return
        await self.conn.execute(
            text(
                """INSERT INTO touch.step_history (enrolment_id, step, visit, event, detail, command_id, at)
                VALUES (:e, :s, :v, :ev, :d, :c, :at)"""
            ),
            [
                {
                    "e": enrolment_id,
                    "s": h.step,
                    "v": h.visit,
                    "ev": h.event,
                    "d": h.detail,
                    "c": h.command_id,
                    "at": h.at,
                }
                for enrolment_id, h in entries
            ],
        )

    async def history(self, enrolment_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            text(
                "SELECT step, visit, event, detail, command_id, at FROM touch.step_history WHERE enrolment_id = :e ORDER BY id"
            ),
            {"e": enrolment_id},
        )
        return [dict(r._mapping) for r in rows]

    # --- the message cap ----------------------------------------------------------------------

    async def record_sends(self, account_id: str, sends: Sequence[tuple[str, datetime]]) -> None:
        await self.record_sends_of([(account_id, command_id, at) for command_id, at in sends])

    async def record_sends_of(self, sends: Sequence[tuple[str, str, datetime]]) -> None:
        """(account id, command id, at) of customer messages, for the message cap."""
        if sends:
            await self.conn.execute(
                text(
                    "INSERT INTO touch.customer_messages (command_id, account_id, at) VALUES (:c, :a, :at) ON CONFLICT DO NOTHING"
                ),
                [{"c": c, "a": account_id, "at": at} for account_id, c, at in sends],
            )

    # --- timers (durable waits) and fired one-shot date triggers -------------------------------

    async def set_timer(
        self,
        account_id: str,
        key: str,
        due_at: datetime,
        *,
        enrolment_id: str | None = None,
        playbook: str | None = None,
    ) -> None:
        """Schedule (or move) a timer; one that already fired for the same instant stays fired."""
        await self.apply_timer_changes([(account_id, [SetTimer(key, due_at, enrolment_id, playbook)])])

    async def clear_timer(self, account_id: str, key: str) -> None:
        await self.apply_timer_changes([(account_id, [ClearTimer(key)])])

    async def mark_fired(self, account_id: str, key: str, *, at: datetime) -> None:
        await self.apply_timer_changes([(account_id, [MarkFired(key, at)])])

    async def apply_timer_changes(self, changes: Sequence[tuple[str, Sequence[TimerChange]]]) -> None:
        """Each account's timer changes in its order. Accounts' timers are independent, so the
        n-th change of every account goes in one round, one statement per kind of change."""
        rounds = max((len(c) for _, c in changes), default=0)
        for n in range(rounds):
            sets, clears, marks = [], [], []
            for account_id, account_changes in changes:
                if n >= len(account_changes):
                    continue
                match account_changes[n]:
                    case SetTimer(key, due_at, enrolment_id, playbook):
                        sets.append({"a": account_id, "k": key, "d": due_at, "e": enrolment_id, "p": playbook})
                    case ClearTimer(key):
                        clears.append({"a": account_id, "k": key})
                    case MarkFired(key, at):
                        marks.append({"a": account_id, "k": key, "at": at})
            if sets:
                await self.conn.execute(_SET_TIMER, sets)
            if clears:
                await self.conn.execute(_CLEAR_TIMER, clears)
            if marks:
                await self.conn.execute(_MARK_FIRED, marks)

    async def due_backlog(self, *, until: datetime) -> tuple[int, datetime | None]:
        """(timers due by ``until`` and not fired, the oldest one's due time): the loop's backlog."""
        row = (
            await self.conn.execute(
                text("SELECT count(*), min(due_at) FROM touch.timers WHERE fired_at IS NULL AND due_at <= :u"),
                {"u": until},
            )
        ).one()
        return int(row[0]), row[1]

    async def due_accounts(self, *, until: datetime, limit: int) -> list[str]:
        """Accounts with a due timer, earliest first. Candidates only: the caller must take the
        account's lock before touching them (``claim_due_accounts`` does both)."""
        rows = await self.conn.execute(
            text(
                """SELECT account_id, min(due_at) AS due FROM (
                    SELECT account_id, due_at FROM touch.timers WHERE fired_at IS NULL AND due_at <= :u
                    ORDER BY due_at LIMIT :n) t
                GROUP BY account_id ORDER BY due"""
            ),
            {"u": until, "n": limit},
        )
        return [r.account_id for r in rows]

    async def claim_due_accounts(self, *, until: datetime, limit: int, skip: Iterable[str] = ()) -> list[str]:
        """Up to ``limit`` accounts with a due timer, earliest first, each locked for this
        transaction; an account another transaction holds is passed over (the per-account
        ``SKIP LOCKED``), and so are those in ``skip``.

        One statement: the candidates are materialised in due order first (a volatile function
        is never pushed below the CTE), then locks are tried in that order until ``limit`` were
        taken, so concurrent replicas take consecutive batches instead of colliding on the same
        one. The caller reads the accounts in later statements, which see what a replica that
        held one committed in between: a timer it fired is no longer due."""
        rows = await self.conn.execute(
            text(
                """WITH due AS MATERIALIZED (
                    SELECT account_id, min(due_at) AS due FROM (
                        SELECT account_id, due_at FROM touch.timers
                        WHERE fired_at IS NULL AND due_at <= :u AND NOT (account_id = ANY(:skip))
                        ORDER BY due_at LIMIT :window) t
                    GROUP BY account_id ORDER BY due, account_id)
                SELECT account_id FROM due WHERE pg_try_advisory_xact_lock(hashtextextended(account_id, 7))
                LIMIT :n"""
            ),
            {"u": until, "skip": list(skip), "window": limit * _CLAIM_WINDOW, "n": limit},
        )
        return [r.account_id for r in rows]

    async def fired_date_triggers(self, account_id: str) -> dict[str, set[datetime]]:
        rows = await self.conn.execute(
            text("SELECT playbook, occurrence FROM touch.date_triggers_fired WHERE account_id = :a"), {"a": account_id}
        )
        fired: dict[str, set[datetime]] = {}
        for r in rows:
            fired.setdefault(r.playbook, set()).add(r.occurrence)
        return fired

    async def record_date_trigger(self, account_id: str, playbook: str, occurrence: datetime, *, at: datetime) -> None:
        await self.record_date_triggers([(account_id, playbook, occurrence, at)])

    async def record_date_triggers(self, fired: Sequence[tuple[str, str, datetime, datetime]]) -> None:
        """(account id, playbook, occurrence, fired at) of one-shot date triggers that had their turn."""
        if fired:
            await self.conn.execute(
                text(
                    """INSERT INTO touch.date_triggers_fired (account_id, playbook, occurrence, fired_at)
                    VALUES (:a, :p, :o, :at) ON CONFLICT DO NOTHING"""
                ),
                [{"a": a, "p": p, "o": o, "at": at} for a, p, o, at in fired],
            )

    # --- the effectiveness report ------------------------------------------------------------

    async def effectiveness_inputs(self, playbook: str) -> Inputs:
        """The playbook's runs (held out too), their accounts' outcome facts, and the commands its
        runs issued with the reactions each got."""
        params = {"p": playbook}
        runs = [
            RunRecord(
                r.id, r.account_id, r.variant, r.tier, r.status == "held_out", r.manual, r.enrolled_at, dict(r.baseline)
            )
            for r in await self.conn.execute(
                text(
                    """SELECT id, account_id, variant, tier, status, manual, enrolled_at, baseline
                    FROM touch.enrolments WHERE playbook = :p ORDER BY enrolled_at, id"""
                ),
                params,
            )
        ]
        facts = [
            AccountFact(r.account_id, r.kind, r.at, r.value)
            for r in await self.conn.execute(
                text(
                    """SELECT f.account_id, f.kind, f.at, f.value FROM touch.facts f
                    WHERE f.command_id IS NULL AND f.account_id IN
                        (SELECT DISTINCT account_id FROM touch.enrolments WHERE playbook = :p)
                    ORDER BY f.at, f.id"""
                ),
                params,
            )
        ]
        reactions: dict[str, set[str]] = {}
        for r in await self.conn.execute(
            text(
                """SELECT f.command_id, f.kind FROM touch.facts f JOIN touch.enrolments e ON e.id = f.enrolment_id
                WHERE e.playbook = :p AND f.command_id IS NOT NULL"""
            ),
            params,
        ):
            reactions.setdefault(r.command_id, set()).add(r.kind)
        commands = [
            CommandRecord(r.enrolment_id, r.step, r.event, r.command_id, frozenset(reactions.get(r.command_id, ())))
            for r in await self.conn.execute(
                text(
                    """SELECT h.enrolment_id, h.step, h.event, h.command_id FROM touch.step_history h
                    JOIN touch.enrolments e ON e.id = h.enrolment_id
                    WHERE e.playbook = :p AND h.event IN ('sent', 'task') AND h.command_id IS NOT NULL"""
                ),
                params,
            )
        ]
        return Inputs(runs, facts, commands)

    # --- Idempotency-Key of enrolments by hand -------------------------------------------------

    async def get_key(self, key: str) -> KeyRecord | None:
        row = (await self.conn.execute(text("SELECT * FROM touch.idempotency_keys WHERE key = :k"), {"k": key})).first()
        return _key(row) if row is not None else None

    async def save_key(self, record: KeyRecord) -> KeyRecord | None:
        """The insert waits for a concurrent transaction holding the same key, then sees its row."""
        inserted = await self.conn.execute(
            text(
                """INSERT INTO touch.idempotency_keys (key, account_id, playbook, by_whom, enrolment_id, created_at)
                VALUES (:k, :a, :p, :b, :e, :at) ON CONFLICT (key) DO NOTHING RETURNING key"""
            ),
            {
                "k": record.key,
                "a": record.request.account_id,
                "p": record.request.playbook,
                "b": record.request.by,
                "e": record.enrolment_id,
                "at": record.created_at,
            },
        )
        if inserted.first() is not None:
            return None
        return await self.get_key(record.key)


def _profile(row: Any) -> Profile:
    return Profile(
        account_id=row.account_id,
        traits=dict(row.traits),
        first_seen_at=row.first_seen_at,
        churned=row.churned,
        last_csm_contact_at=row.last_csm_contact_at,
    )


def _tier(row: Any) -> StoredTier | None:
    if row.tier is None:
        return None
    return StoredTier(row.tier, row.tier_rule, row.tier_phase, row.tier_value, row.tier_reason, row.tier_at)


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        row.key, ManualRequest(row.account_id, row.playbook, row.by_whom), row.enrolment_id, row.created_at
    )


def _enrolment(row: Any) -> Enrolment:
    return Enrolment(
        id=row.id,
        account_id=row.account_id,
        playbook=row.playbook,
        variant=row.variant,
        tier=row.tier,
        enrolled_at=row.enrolled_at,
        anchors=_dates(row.anchors),
        status=row.status,
        step=row.step,
        step_started_at=row.step_started_at,
        wake_at=row.wake_at,
        visits=dict(row.visits),
        seen=_dates(row.seen),
        exiting=row.exiting,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        manual=row.manual,
        answers=dict(row.answers or {}),
        baseline=dict(row.baseline or {}),
    )


def like_escaped(text_: str) -> str:
    """A search typed by a person matches literally: % and _ are not wildcards."""
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
