"""Drives a simulation day by day: clock, events, reactions, drain, progress.

A simulated day has two instants. At 09:00 the clock moves there and the pipeline drains (the
timers the move fired have sent their mail and in-app messages), then the day's usage is sent
and the pipeline drains again. At 15:00 (the clock moves and the pipeline drains again)
customers read the mail that had arrived before the afternoon move, and the users active
today answer their in-app messages; the pipeline drains once more. Reading hours after
delivery is what a person does (an open seconds after delivery looks automatic to notify and
does not count as one); mail the afternoon move itself caused is read the next afternoon.
Draining after each move keeps reactions from racing it: what a customer sees does not depend
on how fast the stack reacted to the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from touchline.sim.barrier import Barrier
from touchline.sim.client import StackClient
from touchline.sim.mailbox import Mail, Mailbox, address_of
from touchline.sim.offers import Answer, Offer, inapp_offer, mail_offer, template_of
from touchline.sim.personas import Account, PlannedEvent, User
from touchline.sim.plan import Config, batches, events_of_day, to_segment
from touchline.sim.reactions import NO_REACTION, Reaction, react

MORNING = timedelta(hours=9)
AFTERNOON = timedelta(hours=15)  # when customers read their mail and answer in-app messages
SEND_CONCURRENCY = 4
# Customers reading mail and opening the widget at the same time (bounded: the stack is local).
REACT_CONCURRENCY = 16


@dataclass
class Tally:
    """What the simulator did and saw; one per week and one for the whole run."""

    events: int = 0
    mails: int = 0
    mails_by_template: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    clicks: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # per survey, mail and in-app together
    inapp_seen: int = 0
    # Messages asking a question without offering any answer, per "template (channel)".
    unanswerable: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.events += other.events
        self.mails += other.mails
        self.mails_by_template.update(other.mails_by_template)
        self.opens += other.opens
        self.clicks += other.clicks
        self.answers.update(other.answers)
        self.inapp_seen += other.inapp_seen
        self.unanswerable.update(other.unanswerable)


@dataclass
class MailRecord:
    """One mail to a simulated user, kept for the end-to-end checks."""

    day: int
    account_id: str
    to: str
    template: str | None  # the X-Touchline-Template header, else recognised from the subject
    subject: str
    delivery_id: str | None
    offered: tuple[Answer, ...]  # the answers its one-click links offered
    reaction: Reaction


@dataclass(frozen=True)
class GivenAnswer:
    """One answer a simulated customer gave, with what the message offered (for the checks that
    nothing else answers on the customers' behalf, and nothing outside the offer)."""

    day: int
    account_id: str
    user_id: str
    channel: str  # email (one-click link) or in_app (widget choice)
    answer: Answer  # as sent: an offered answer, plus the widget's comment in-app
    offered: tuple[Answer, ...]


@dataclass(frozen=True)
class Unanswerable:
    """A message that asked a question without offering a single answer."""

    day: int
    account_id: str
    user_id: str
    channel: str
    label: str  # template, else "subject: ..." (mail) or the message's title (in-app)


@dataclass
class Timings:
    settle_s: float = 0.0
    drain_s: float = 0.0
    send_s: float = 0.0


class Runner:
    def __init__(
        self,
        *,
        config: Config,
        accounts: Sequence[Account],
        client: StackClient,
        barrier: Barrier,
        mailbox: Mailbox,
        react_to_mail: bool = True,
        on_day: Callable[[int, Tally], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.accounts = list(accounts)
        self.client = client
        self.barrier = barrier
        self.mailbox = mailbox
        self.react_to_mail = react_to_mail
        self.on_day = on_day
        self.total = Tally()
        self.today = Tally()
        self.mails: list[MailRecord] = []
        self.given: list[GivenAnswer] = []
        self.unanswerable: list[Unanswerable] = []
        # The first day each user got a mail asking each survey (a reminder is a second ask).
        self._first_asked: dict[tuple[str, str], int] = {}
        self.timings = Timings()
        self._people = {u.email.lower(): (a, u) for a in self.accounts for u in a.users}
        self._active_today: set[str] = set()
        self._unanswerable_seen: set[str] = set()

    def day_at(self, day: int, offset: timedelta) -> datetime:
        return self.config.day_start(day) + offset

    async def run(self) -> Tally:
        for day in range(self.config.days):
            await self.run_day(day)
        return self.total

    async def run_day(self, day: int) -> None:
        self.today = Tally()
        await self._move_clock(self.day_at(day, MORNING))
        await self._drain()
        events = events_of_day(self.accounts, config=self.config, day=day)
        self._active_today = {
            e.user_id for e in events if e.event == "Signed In" and e.at >= self.day_at(day, timedelta())
        }
        await self.send(events, sent_at=self.day_at(day, MORNING))
        await self._drain()
        arrived = list(self.mailbox.new_mails())  # before the afternoon move adds its own
        await self._move_clock(self.day_at(day, AFTERNOON))
        await self._drain()
        await self.read_mail(day, arrived)
        await self.use_inapp(day)
        await self._drain()
        self.total.add(self.today)
        if self.on_day is not None:
            await self.on_day(day, self.today)

    async def _move_clock(self, when: datetime) -> None:
        began = time.monotonic()
        await self.barrier.set_clock(when)
        self.timings.settle_s += time.monotonic() - began

    async def _drain(self) -> None:
        began = time.monotonic()
        await self.barrier.drain()
        self.timings.drain_s += time.monotonic() - began

    async def send(self, events: Sequence[PlannedEvent], *, sent_at: datetime) -> None:
        """Introductions first and alone (users must be grouped before their usage counts), then
        the rest a few batches at a time."""
        began = time.monotonic()
        calls = [to_segment(e, sent_at=sent_at) for e in events]
        intro = [c for c in calls if c["type"] != "track"]
        usage = [c for c in calls if c["type"] == "track"]
        for batch in batches(intro):
            await self.client.send_batch(batch)
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one(batch: list[dict[str, object]]) -> None:
            async with gate:
                await self.client.send_batch(batch)

        await asyncio.gather(*(one(b) for b in batches(usage)))
        self.today.events += len(calls)
        self.timings.send_s += time.monotonic() - began

    async def read_mail(self, day: int, arrived: Iterable[Mail]) -> None:
        """Every simulated customer reads the mail that ``arrived``; accounts side by side, each
        account's mail in arrival order."""
        by_account: dict[str, list[tuple[Mail, Account, User]]] = {}
        for mail in arrived:
            person = self._people.get(address_of(mail.to[0]) if mail.to else "")
            if person is not None:  # else a mail to a CSM, or to an earlier run's customer
                by_account.setdefault(person[0].account_id, []).append((mail, *person))
        await _bounded(self._read_account_mail(day, mails) for mails in by_account.values())

    async def _read_account_mail(self, day: int, mails: list[tuple[Mail, Account, User]]) -> None:
        for mail, account, user in mails:
            offer = mail_offer(mail)
            self.today.mails += 1
            self.today.mails_by_template[offer.label] += 1
            if offer.unanswerable:
                self._gap(Unanswerable(day, account.account_id, user.user_id, "email", offer.label))
            reaction = NO_REACTION
            asked_before = self._asked(user, offer, day)
            if self.react_to_mail:
                reaction = react(
                    account, user_id=user.user_id, message_key=mail.message_id, offered=offer.answers, day=day,
                    seed=self.config.seed, asked_before=asked_before,
                )  # fmt: skip
            await self._act_on_mail(mail, offer, reaction)
            if reaction.answer is not None:
                self.given.append(
                    GivenAnswer(day, account.account_id, user.user_id, "email", reaction.answer, offer.answers)
                )
            self.mails.append(
                MailRecord(
                    day=day, account_id=account.account_id, to=user.email, template=template_of(mail),
                    subject=mail.subject, delivery_id=mail.delivery_id, offered=offer.answers, reaction=reaction,
                )
            )  # fmt: skip

    async def _act_on_mail(self, mail: Mail, offer: Offer, reaction: Reaction) -> None:
        """Only the mail's own links: the open pixel, then the one-click link of the chosen
        answer, or a tracked link."""
        if not reaction.open:
            return
        for link in mail.of_kind("open")[:1]:
            await self.client.hit(link.url)
        self.today.opens += 1
        if reaction.answer is not None:
            link = offer.links[offer.answers.index(reaction.answer)]
            await self.client.hit(link.url)
            self.today.answers[str(reaction.answer.get("survey"))] += 1
            self.today.clicks += 1
        elif reaction.click and mail.of_kind("click"):
            await self.client.hit(mail.of_kind("click")[0].url)
            self.today.clicks += 1

    def _asked(self, user: User, offer: Offer, day: int) -> bool:
        """Whether a mail asked ``user`` this survey on an earlier day; remembers today's ask."""
        if offer.survey is None:
            return False
        first = self._first_asked.setdefault((user.user_id, offer.survey), day)
        return first < day

    def _gap(self, gap: Unanswerable) -> None:
        self.unanswerable.append(gap)
        self.today.unanswerable[f"{gap.label} ({gap.channel})"] += 1

    async def use_inapp(self, day: int) -> None:
        """Users who were in the product today see their in-app messages and react to them."""
        await _bounded(
            self._inapp_for(account, user, day)
            for account in self.accounts
            for user in account.users
            if user.user_id in self._active_today
        )

    async def _inapp_for(self, account: Account, user: User, day: int) -> None:
        """What the widget lets its user do: answer a survey with one of its choices (and a
        comment), follow a message's call to action, or close it."""
        for message in await self.client.inapp_messages(user.user_id):
            message_id = str(message["id"])
            offer = inapp_offer(message)
            self.today.inapp_seen += 1
            if offer.unanswerable and message_id not in self._unanswerable_seen:
                self._unanswerable_seen.add(message_id)
                self._gap(Unanswerable(day, account.account_id, user.user_id, "in-app", offer.label))
            await self.client.inapp_event(user.user_id, message_id, "seen")
            reaction = react(
                account, user_id=user.user_id, message_key=message_id, offered=offer.answers, day=day,
                seed=self.config.seed, in_app=True,
            )  # fmt: skip
            if reaction.answer is not None:
                answer = dict(reaction.answer)
                if offer.comment_box and reaction.comment:
                    answer["comment"] = reaction.comment
                await self.client.inapp_event(user.user_id, message_id, "answered", answer)
                self.today.answers[str(answer.get("survey"))] += 1
                self.given.append(GivenAnswer(day, account.account_id, user.user_id, "in_app", answer, offer.answers))
            elif reaction.click and not offer.asks and (message.get("cta") or {}).get("url"):
                await self.client.inapp_event(user.user_id, message_id, "clicked")
            else:
                await self.client.inapp_event(user.user_id, message_id, "dismissed")


async def _bounded(work: Iterable[Coroutine[Any, Any, None]], *, limit: int = REACT_CONCURRENCY) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in work))
