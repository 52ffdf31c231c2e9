"""The loops that act after the consumer committed: send mail, post webhooks, publish outcomes.

Mail is delivered at least once, each copy with the same Message-ID. The loop claims due "pending"
rows (FOR UPDATE SKIP LOCKED) and marks them "sending" in a committed transaction *before*
talking SMTP, so a second replica or a redelivered command does not send the same row at the same
time. Each mail's result ("sent" / "pending" to retry later / "failed") is committed as soon as
its SMTP server answers, so the only mails whose fate a crash leaves unknown are those whose
conversation was in flight at that moment. A row still "sending" after the lease is such a
mail: it goes back to "pending" and is sent again with its Message-ID (fixed when the delivery
was recorded), which receivers and the local sink deduplicate on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from touchline.shared import metrics, topics
from touchline.shared.clock import Clock
from touchline.shared.kafka import KafkaPublisher
from touchline.shared.retry import backoff
from touchline.shared.tracing import Tracing

from .adapters import pg_routing, pg_tasks, pg_wake
from .adapters import postgres as pg
from .adapters.webhooks import signature_headers
from .domain.email import classify_smtp, gives_up
from .domain.endpoints import Endpoint, Seen, settle_orphans
from .domain.mime import Outgoing, compose
from .domain.outcomes import outcome_for
from .ports import Listener as WakeListener
from .ports import ListenSession, Mailer, SendFailed, WebhookPoster
from .settings import NotifySettings
from .streams import first_of

log = logging.getLogger(__name__)
Work = Callable[[AsyncConnection], Awaitable[None]]


def mail_for(row: Mapping[str, Any], *, mail_from: str, now: datetime) -> EmailMessage:
    """The mail a delivery row is sent as (raises ValueError on an unusable row)."""
    return compose(
        Outgoing(
            message_id=row["message_id"],
            mail_from=mail_from,
            to=row["email"],
            to_name=row["to_name"],
            subject=row["subject"],
            html=row["html"],
            text=row["body_text"],
            unsubscribe_url=row["unsubscribe_url"],
            sent_at=now,
            delivery_id=row["id"],
            template=row["template"],
        )
    )


def wall_now() -> datetime:
    # Retries and leases pace real I/O, so they follow the wall clock even when business time is simulated.
    return datetime.now(UTC)


@dataclass
class Loops:
    engine: AsyncEngine
    mailer: Mailer
    poster: WebhookPoster
    publisher: KafkaPublisher
    clock: Clock
    settings: NotifySettings
    wakes: dict[str, asyncio.Event] = field(
        default_factory=lambda: {name: asyncio.Event() for name in ("mail", "webhooks", "outcomes", "parked")}
    )
    batch: int = 20
    # True while a LISTEN connection hears pg_wake's notifications: the loops then only poll as a
    # fallback, every listen_poll_seconds.
    listening: bool = False
    # None: tracing off. On, each SMTP send is a span in its command's trace.
    tracing: Tracing | None = None
    _results: list[tuple[Work, asyncio.Future[None]]] = field(default_factory=list)
    _recorder: asyncio.Task[None] | None = None
    _alone: set[asyncio.Task[None]] = field(default_factory=set)

    def idle_seconds(self) -> float:
        """How long an idle loop waits for a wake-up before it looks for work anyway."""
        return self.settings.listen_poll_seconds if self.listening else self.settings.poll_seconds

    async def _write(self, work: Work, stop: asyncio.Event) -> None:
        """Record a fact that already happened (a mail went out): keep trying while the database is away."""
        attempt = 0
        while True:
            try:
                async with self.engine.begin() as conn:
                    await work(conn)
                self.poke("outcomes")
                return
            except Exception as exc:
                attempt += 1
                if stop.is_set() and attempt > 3:
                    raise
                log.warning("recording a delivery result failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(backoff(attempt, base=0.2, cap=5.0))

    async def mail(self, stop: asyncio.Event) -> None:
        """Send due mail until stopped, up to ``smtp_concurrency`` conversations at a time.

        Slots are refilled as mails finish (once half are free, so a claim takes several rows), not
        when a whole batch is done: one slow server answer holds one slot, not every other send.
        Idle, it waits for a wake-up (work committed here or, by NOTIFY, on any replica) or the poll."""
        capacity = max(self.settings.smtp_concurrency, 1)
        in_flight: set[asyncio.Task[None]] = set()
        failures = 0
        try:
            while not stop.is_set():
                room = capacity - len(in_flight)
                if in_flight and room < max(capacity // 2, 1):
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                self.wakes["mail"].clear()  # a wake-up from now on means work committed after this claim
                try:
                    rows, silenced = await self._claim_mail(room)
                    failures = 0
                except Exception as exc:
                    failures += 1
                    log.warning("mail loop failed; retrying", extra={"error": repr(exc)})
                    await first_of(stop, timeout=backoff(failures, base=0.5, cap=10.0))
                    continue
                for row in rows:
                    task = asyncio.create_task(self._send_and_record(row, silenced=silenced, stop=stop))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if len(rows) < room:  # nothing more due now
                    await first_of(self.wakes["mail"], stop, timeout=self.idle_seconds())
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _claim_mail(self, limit: int) -> tuple[list[Mapping[str, Any]], set[str]]:
        now = wall_now()
        lease = timedelta(seconds=self.settings.sending_lease_seconds)
        async with self.engine.begin() as conn:
            unknown = await pg.resend_unknown(conn, claimed_before=now - lease, wall_now=now)
            rows = await pg.claim_due(conn, wall_now=now, limit=limit)
            # Checked again at send time: an unsubscribe may have come after the command was recorded.
            silenced = await pg.unsubscribed(conn, [r["email"] for r in rows if not r["internal"]])
        for row in unknown:
            log.warning(
                "a mail's fate is unknown after a crash; sending it again with the same Message-ID",
                extra={"delivery": row["id"], "message_id": row["message_id"]},
            )
        return rows, silenced

    async def _send_and_record(self, row: Mapping[str, Any], *, silenced: set[str], stop: asyncio.Event) -> None:
        try:
            work = await self._send(row, silenced=row["email"].lower() in silenced)
            # Recorded as soon as this server answered, not with the others in flight: a crash while
            # other conversations go on must not leave this mail's fate unknown.
            await self._record(work, stop)
        except Exception as exc:
            # Left "sending": after the lease it is sent again with its Message-ID, like after a crash.
            log.error("a mail's result could not be recorded", extra={"delivery": row["id"], "error": repr(exc)})

    async def _record(self, work: Work, stop: asyncio.Event) -> None:
        """Record one result, in one transaction with the others that finished meanwhile (a group
        commit); returns once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((work, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_waiting(stop))
        await done

    async def _record_waiting(self, stop: asyncio.Event) -> None:
        while self._results:
            group, self._results = self._results, []
            try:
                async with self.engine.begin() as conn:
                    for work, _ in group:
                        await work(conn)
            except Exception as exc:
                # Each on its own, with _write's retries: a result that cannot be written (or the
                # database away) must not hold the others, nor the results still to come.
                log.warning("recording results together failed; one by one", extra={"error": repr(exc)})
                for work, done in group:
                    task = asyncio.create_task(self._record_alone(work, done, stop))
                    self._alone.add(task)
                    task.add_done_callback(self._alone.discard)
                continue
            self.poke("outcomes")
            for _, done in group:
                if not done.done():  # its sender may have been cancelled (shutdown)
                    done.set_result(None)

    async def _record_alone(self, work: Work, done: asyncio.Future[None], stop: asyncio.Event) -> None:
        try:
            await self._write(work, stop)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(None)

    async def _send(self, row: Mapping[str, Any], *, silenced: bool) -> Work:
        """Send one claimed delivery; return how to record what happened."""
        now = self.clock.now()
        if silenced and not row["internal"]:
            return self._finish(row, state="suppressed", kind="email.failed", detail="suppressed: unsubscribed")
        try:
            message = self._compose(row, now=now)
        except ValueError as exc:
            # Bad data in one row (e.g. a line break in an address) fails that delivery only.
            return self._finish(row, state="failed", kind="email.failed", detail=f"permanent: unusable message: {exc}")
        try:
            sending = metrics.timed_smtp(self.mailer.send(message))
            if self.tracing is not None:
                sending = self.tracing.client_span(
                    "smtp send",
                    sending,
                    traceparent=row.get("traceparent"),
                    attributes={
                        "touchline.delivery_id": row["id"],
                        "touchline.account_id": row["account_id"],
                        "touchline.template": row["template"] or "",
                    },
                )
            await sending
        except SendFailed as exc:
            return self._failed(row, exc)
        return self._finish(row, state="sent", kind="email.sent", detail=row["message_id"], sent_at=now)

    def _compose(self, row: Mapping[str, Any], *, now: datetime) -> EmailMessage:
        return mail_for(row, mail_from=self.settings.mail_from, now=now)

    def _failed(self, row: Mapping[str, Any], exc: SendFailed) -> Work:
        verdict = classify_smtp(exc.code)
        after = timedelta(hours=self.settings.give_up_after_hours)
        if verdict == "permanent" or gives_up(first_attempt_at=row["first_attempt_at"], now=wall_now(), after=after):
            return self._finish(row, state="failed", kind="email.failed", detail=f"{verdict}: {exc}")
        delay = backoff(row["attempts"], base=self.settings.retry_base_seconds, cap=self.settings.retry_max_seconds)
        log.info(
            "smtp transient failure; will retry", extra={"delivery": row["id"], "error": str(exc), "retry_in_s": delay}
        )

        metrics.delivered("email", "retry")

        async def retry_later(conn: AsyncConnection) -> None:
            next_at = wall_now() + timedelta(seconds=delay)
            await pg.set_state(
                conn, row["id"], claimed_at=row["claimed_at"], state="pending", error=str(exc), next_attempt_at=next_at
            )

        return retry_later

    def _finish(
        self, row: Mapping[str, Any], *, state: str, kind: str, detail: str, sent_at: datetime | None = None
    ) -> Work:
        async def record(conn: AsyncConnection) -> None:
            error = None if state == "sent" else detail
            claim = row["claimed_at"]
            if not await pg.set_state(conn, row["id"], claimed_at=claim, state=state, error=error, sent_at=sent_at):
                # The lease ran out and the row was claimed again: that claim records its own result.
                log.warning("a delivery finished after its lease", extra={"delivery": row["id"], "state": state})
                return
            metrics.delivered("email", state)
            occurrence = "sent" if state == "sent" else state
            outcome = outcome_for(row, kind=kind, occurrence=occurrence, now=self.clock.now(), detail=detail)
            await pg.add_outcomes(conn, [outcome])

        return record

    async def webhooks_once(self, stop: asyncio.Event) -> int:
        now = wall_now()
        lease = timedelta(seconds=self.settings.sending_lease_seconds)
        async with self.engine.begin() as conn:
            # Theme subscriptions' endpoints live in the database, not in a configuration: every instance sends them.
            ours = self.settings.endpoints() + await pg_routing.subscription_endpoints(conn)
            ids = [e.id for e in ours]
            await self._forget_unconfigured(conn, ours, now=now)
            await pg_tasks.release_stale_webhooks(conn, claimed_before=now - lease)
            await pg_tasks.skip_disabled(conn)
            rows = await pg_tasks.claim_webhooks(conn, wall_now=now, limit=self.batch, endpoint_ids=ids)
        for row in rows:
            await self._post(row, stop)
        return len(rows)

    async def _forget_unconfigured(self, conn: AsyncConnection, ours: list[Endpoint], *, now: datetime) -> None:
        """Stamp our endpoints as configured; settle what waits for endpoints no instance names any more."""
        after = timedelta(seconds=self.settings.webhook_orphan_seconds)
        # Re-stamped well before it could look orphaned, but not on every poll.
        await pg_tasks.stamp_configured(conn, [e.id for e in ours], now=now, older_than=now - after / 4)
        seen = [Seen(r["id"], r["url"], r["kind"], r["configured_at"]) for r in await pg_tasks.all_endpoints(conn)]
        settlement = settle_orphans(seen, now=now, after=after)
        adopted = 0
        for old, heir in settlement.moves:
            adopted += await pg_tasks.adopt_webhooks(conn, from_endpoint=old, to_endpoint=heir)
        if adopted:
            log.info(
                "webhooks queued under an endpoint's former secret are sent with the current one",
                extra={"adopted": adopted},
            )
        if settlement.drops and (n := await pg_tasks.drop_unconfigured(conn, settlement.drops)):
            log.warning("webhooks for endpoints no longer configured were not sent", extra={"dropped": n})

    async def _post(self, row: Mapping[str, Any], stop: asyncio.Event) -> None:
        # A 410 on an earlier row of this batch (or on another replica) may have disabled the endpoint
        # since the claim: then this row was recorded as not sent and must not be posted.
        async with self.engine.begin() as conn:
            if not await pg_tasks.still_claimed(conn, row["id"], claimed_at=row["claimed_at"]):
                log.info("webhook not posted: its endpoint was disabled", extra={"webhook": row["id"]})
                return
        body = json.dumps(row["payload"], ensure_ascii=False).encode()
        headers = {"content-type": "application/json"}
        if row["kind"] != "slack" and row["secret"]:
            headers = signature_headers(secret=row["secret"], msg_id=row["id"], timestamp=wall_now(), body=body)
        permanent = False
        try:
            status: int | None = await self.poster.post(row["url"], body=body, headers=headers)
            error = None if status is not None and status < 300 else f"HTTP {status}"
        except ValueError as exc:  # the endpoint itself is wrong: retrying cannot help
            status, error, permanent = None, str(exc), True
        except Exception as exc:
            status, error = None, f"{exc.__class__.__name__}: {exc}"

        metrics.webhook_attempt(row["kind"], status=status, ok=error is None)

        async def record(conn: AsyncConnection) -> None:
            after = timedelta(hours=self.settings.give_up_after_hours)
            mark = partial(pg_tasks.set_webhook_state, conn, row["id"], claimed_at=row["claimed_at"])
            if error is None:
                await mark(state="delivered", error=None, next_attempt_at=None)
            elif status == 410:
                await mark(state="failed", error=error, next_attempt_at=None)
                skipped = await pg_tasks.disable_endpoint(conn, row["endpoint_id"], reason="410 Gone", now=wall_now())
                log.warning(
                    "webhook endpoint answered 410 Gone: disabled",
                    extra={"endpoint": row["endpoint_id"], "not_sent": skipped},
                )
            elif (
                permanent
                or (status is not None and 400 <= status < 500 and status not in (408, 429))
                or gives_up(first_attempt_at=row["first_attempt_at"], now=wall_now(), after=after)
            ):
                await mark(state="failed", error=error, next_attempt_at=None)
            else:
                delay = backoff(
                    row["attempts"], base=self.settings.retry_base_seconds, cap=self.settings.retry_max_seconds
                )
                await mark(state="pending", error=error, next_attempt_at=wall_now() + timedelta(seconds=delay))

        await self._write(record, stop)

    async def relay_once(self) -> int:
        """Publish staged outcomes (at least once; ids are deterministic so consumers drop copies)."""
        async with self.engine.begin() as conn:
            items = await pg.take_unpublished(conn, limit=500)
            if items:
                await self.publisher.publish(topics.OUTCOMES, [o for _, o in items])
                await pg.mark_published(conn, [i for i, _ in items], now=wall_now())
        return len(items)

    def poke(self, *names: str) -> None:
        """Wake loops now instead of at their next poll (new work was just committed)."""
        for name in names:
            self.wakes[name].set()

    async def run(self, name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event) -> None:
        """Repeat ``step``; sleep when idle; survive infrastructure trouble (log, back off, go on)."""
        failures = 0
        while not stop.is_set():
            try:
                done = await step()
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("%s loop failed; retrying", name, extra={"error": repr(exc)})
                await asyncio.sleep(backoff(failures, base=0.5, cap=10.0))
                continue
            if done == 0:
                await first_of(self.wakes[name], stop, timeout=self.idle_seconds())
                self.wakes[name].clear()

    async def listen(self, listener: WakeListener, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection for pg_wake's notifications; while it is down, poll every poll_seconds."""
        failures = 0
        while not stop.is_set():
            try:
                session = await listener.open(self._heard)
            except Exception as exc:
                failures += 1
                log.warning("notify's wake-up connection failed; polling meanwhile", extra={"error": repr(exc)})
                await first_of(stop, timeout=backoff(failures, base=0.5, cap=30.0))
                continue
            failures = 0
            try:
                self.listening = True
                self.poke(*pg_wake.LOOPS)  # what was committed while nobody listened
                await self._hold(session, stop)
            finally:
                self.listening = False
                self.poke(*pg_wake.LOOPS)  # back to polling now, not at the end of a fallback wait
                await session.close()

    def _heard(self, payload: str) -> None:
        if payload in self.wakes:
            self.poke(payload)

    async def _hold(self, session: ListenSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await first_of(session.lost, stop, timeout=self.settings.listen_poll_seconds)
            if stop.is_set():
                return
            if session.lost.is_set():
                log.warning("notify's wake-up connection lost; polling until it is back")
                return
            try:
                await session.ping()
            except Exception as exc:
                log.warning("notify's wake-up connection does not answer; reconnecting", extra={"error": repr(exc)})
                return
