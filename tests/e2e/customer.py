"""A simulated customer for the story tests: it acts only through what it received.

Mails are read from the SMTP sink (``touchline.sim.mailbox``): the open pixel, the tracked links
and the one-click answer links are the only ways to react to one. In-app messages are read through
notify's in-app API with the user's signed token and answered only with a choice the message
offers, turned into an answer the way the widget does (``touchline.sim.offers.widget_answer``).
Asking for an answer that was not offered fails the story: that is the point of the exercise.

Accounts come in through ingest's Segment API; the clock moves with the simulator's barrier,
which also waits for the pipeline to drain (``World.move``, ``World.settle``).
"""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from touchline.sim.barrier import Barrier
from touchline.sim.client import SimulationError, StackClient
from touchline.sim.mailbox import Link, Mail, Mailbox, address_of
from touchline.sim.offers import Answer, widget_answer


class NotOffered(AssertionError):
    """The customer was asked to give an answer the product did not offer it."""


@dataclass
class Received:
    """One mail or in-app message as a customer got it, on simulated ``day``."""

    day: int
    channel: str  # email | in_app
    to: str  # an address (email) or a user id (in_app)
    template: str | None
    subject: str
    text: str = ""
    mail: Mail | None = None
    message: dict[str, Any] | None = None
    read: bool = False  # the customer has looked at it (mail)

    def offered(self) -> list[Answer]:
        """The answers this message lets its reader give, in the order shown."""
        if self.mail is not None:
            return [dict(link.answer) for link in self.mail.of_kind("answer") if link.answer]
        message = self.message or {}
        survey = message.get("survey")
        if not survey:
            return []
        return [a for c in message.get("choices") or [] if (a := widget_answer(str(survey), c.get("value")))]

    def describe(self) -> str:
        return f"d{self.day} {self.channel} {self.template or self.subject!r} to {self.to}"


def _matches(offered: Answer, wanted: Mapping[str, Any]) -> bool:
    return all(offered.get(k) == v for k, v in wanted.items())


def text_of(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


@dataclass
class User:
    user_id: str
    email: str
    role: str  # admin | decision_maker | user
    name: str


@dataclass
class Customer:
    """One account's people; everything they received is kept in ``received``."""

    name: str
    account_id: str
    traits: dict[str, Any]
    users: list[User]
    locale: str = "en"
    received: list[Received] = field(default_factory=list)
    given: list[Answer] = field(default_factory=list)  # every answer its people gave, as sent
    # What its people tried and could not do (an answer not offered, or refused by the product):
    # kept for the story's test to report, so one story's failure does not stop the others.
    problems: list[str] = field(default_factory=list)
    world: World | None = None

    @property
    def admin(self) -> User:
        return next(u for u in self.users if u.role in ("admin", "decision_maker"))

    @property
    def end_user(self) -> User:
        return next(u for u in self.users if u.role == "user")

    def mails(self, template: str | None = None, *, to: User | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.channel == "email"
            and (template is None or r.template == template)
            and (to is None or r.to == to.email.lower())
        ]

    def mail(self, template: str, *, to: User | None = None) -> Received:
        found = self.mails(template, to=to)
        assert found, f"{self.name}: no {template} mail{' to ' + to.email if to else ''}; got {self.story()}"
        return found[0]

    def inapp(self, template: str | None = None, *, to: User | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.channel == "in_app"
            and (template is None or r.template == template)
            and (to is None or r.to == to.user_id)
        ]

    def story(self) -> str:
        return "; ".join(r.describe() for r in self.received) or "nothing"

    @contextmanager
    def attempt(self, what: str) -> Iterator[None]:
        try:
            yield
        except (NotOffered, SimulationError) as exc:
            self.problems.append(f"{what}: {exc}")

    # --- reacting to mail: only through its links -------------------------------------------------

    def _client(self) -> StackClient:
        assert self.world is not None
        return self.world.client

    async def open(self, got: Received) -> None:
        """The mail client loads the open pixel (a person reading it, or a prefetch)."""
        with self.attempt(f"open {got.describe()}"):
            await self._pixel(got)

    async def _pixel(self, got: Received) -> None:
        assert got.mail is not None
        pixels = got.mail.of_kind("open")
        if not pixels:
            raise NotOffered(f"{got.describe()} has no open pixel")
        await self._client().hit(pixels[0].url)

    async def click(self, got: Received) -> None:
        """Open the mail and follow its first tracked link."""
        assert got.mail is not None
        with self.attempt(f"click {got.describe()}"):
            links = got.mail.of_kind("click")
            if not links:
                raise NotOffered(f"{got.describe()} has no tracked link")
            await self._pixel(got)
            await self._client().hit(links[0].url)

    async def answer_mail(self, got: Received, **wanted: Any) -> None:
        """Open the mail and click the one-click link recording ``wanted`` (it must be offered)."""
        with self.attempt(f"answer {dict(wanted)} to {got.describe()}"):
            link = self._answer_link(got, wanted)
            await self._pixel(got)
            await self._client().hit(link.url)
            self.given.append(dict(link.answer or {}))

    def _answer_link(self, got: Received, wanted: Mapping[str, Any]) -> Link:
        assert got.mail is not None
        for link in got.mail.of_kind("answer"):
            if link.answer and _matches(link.answer, wanted):
                return link
        raise NotOffered(f"{got.describe()} offers {got.offered()}, not {dict(wanted)}")

    # --- in-app: the widget's API with the user's signed token ------------------------------------

    async def look_inapp(self, user: User, day: int) -> list[Received]:
        """What the widget shows ``user`` now; new messages are kept in ``received``."""
        messages = await self._client().inapp_messages(user.user_id)
        known = {str((r.message or {}).get("id")) for r in self.received if r.channel == "in_app"}
        fresh = []
        for message in messages:
            got = Received(
                day=day,
                channel="in_app",
                to=user.user_id,
                template=message.get("template"),
                subject=str(message.get("title") or ""),
                text=f"{message.get('title') or ''}\n{message.get('body') or ''}\n{message.get('question') or ''}",
                message=message,
            )
            if str(message["id"]) not in known:
                self.received.append(got)
                fresh.append(got)
        return fresh

    async def answer_inapp(self, got: Received, *, comment: str | None = None, **wanted: Any) -> None:
        """Pick the offered choice matching ``wanted`` (a comment may ride along, as the widget's
        comment box allows); with no ``wanted`` at all, send the comment alone (a partial answer)."""
        with self.attempt(f"answer {dict(wanted)} (comment {comment!r}) to {got.describe()}"):
            assert got.message is not None
            survey = got.message.get("survey")
            if not survey:
                raise NotOffered(f"{got.describe()} asks nothing")
            if wanted:
                choice = next((a for a in got.offered() if _matches(a, wanted)), None)
                if choice is None:
                    raise NotOffered(f"{got.describe()} offers {got.offered()}, not {dict(wanted)}")
                answer = dict(choice)
            else:
                assert comment, "a partial answer needs its comment"
                answer = {"survey": survey}
            if comment:
                answer["comment"] = comment
            client = self._client()
            await client.inapp_event(got.to, str(got.message["id"]), "seen")
            await client.inapp_event(got.to, str(got.message["id"]), "answered", answer)
            self.given.append(answer)


class World:
    """Many customers on one stack, driven through simulated days together."""

    def __init__(self, *, client: StackClient, barrier: Barrier, mail_dir: Path, start: datetime) -> None:
        self.client = client
        self.barrier = barrier
        self.mail_dir = mail_dir
        self.mailbox = Mailbox(mail_dir)
        self.start = start
        self.customers: dict[str, Customer] = {}
        self._people: dict[str, Customer] = {}
        self.csm_mail: list[Received] = []
        self._templates: dict[str, str | None] = {}
        self.tag = uuid.uuid4().hex[:6]

    def at(self, day: int, hour: int = 9) -> datetime:
        return self.start + timedelta(days=day, hours=hour - 9)

    def customer(self, name: str, *, traits: Mapping[str, Any], locale: str = "en", users: int = 2) -> Customer:
        account_id = f"{name}-{self.tag}"
        people = [User(f"{account_id}-admin", f"admin@{account_id}.example.com", "admin", "Aiko Admin")]
        people += [
            User(f"{account_id}-u{n}", f"u{n}@{account_id}.example.com", "user", f"User {n}") for n in range(1, users)
        ]
        customer = Customer(
            name=name,
            account_id=account_id,
            traits={"name": name.replace("_", " ").title(), "locale": locale, **traits},
            users=people,
            locale=locale,
            world=self,
        )
        self.customers[name] = customer
        for user in people:
            self._people[user.email.lower()] = customer
        return customer

    # --- the product's side: Segment calls -------------------------------------------------------

    def introduce(self, customer: Customer, *, at: datetime) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        for user in customer.users:
            calls.append(
                self._call("group", user, at, groupId=customer.account_id, traits=dict(customer.traits), key="group")
            )
            traits = {"email": user.email, "name": user.name, "locale": customer.locale, "role": user.role}
            calls.append(self._call("identify", user, at, traits=traits, key="identify"))
        return calls

    def track(self, customer: Customer, user: User, event: str, *, at: datetime, **properties: Any) -> dict[str, Any]:
        return self._call(
            "track", user, at, event=event, properties=properties, context={"groupId": customer.account_id}, key=event
        )

    def regroup(self, customer: Customer, *, at: datetime, **traits: Any) -> dict[str, Any]:
        customer.traits.update(traits)
        return self._call("group", customer.admin, at, groupId=customer.account_id, traits=dict(customer.traits))

    def _call(self, kind: str, user: User, at: datetime, *, key: str = "", **body: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "userId": user.user_id,
            "messageId": f"{user.user_id}-{kind}-{key}-{at.isoformat()}-{uuid.uuid4().hex[:8]}",
            "timestamp": at.isoformat(),
            **body,
        }

    async def send(self, calls: list[dict[str, Any]], *, sent_at: datetime) -> None:
        intro = [c for c in calls if c["type"] != "track"]
        usage = [c for c in calls if c["type"] == "track"]
        for chunk in (intro, usage):
            for n in range(0, len(chunk), 200):
                part = [{**c, "sentAt": sent_at.isoformat()} for c in chunk[n : n + 200]]
                await self.client.send_batch(part)

    # --- time ------------------------------------------------------------------------------------

    async def move(self, when: datetime) -> None:
        await self.barrier.set_clock(when)

    async def settle(self) -> None:
        await self.barrier.drain()

    async def deliver(self, day: int) -> list[Received]:
        """Mail that reached the sink since the last look, handed to its customers."""
        fresh = []
        for mail in self.mailbox.new_mails():
            address = address_of(mail.to[0]) if mail.to else ""
            customer = self._people.get(address)
            got = Received(
                day=day,
                channel="email",
                to=address,
                template=mail.template or await self._template_of(mail, customer),
                subject=mail.subject,
                text=text_of(self.mail_dir / mail.file),
                mail=mail,
            )
            if customer is None:
                self.csm_mail.append(got)
            else:
                customer.received.append(got)
                fresh.append(got)
        return fresh

    async def _template_of(self, mail: Mail, customer: Customer | None) -> str | None:
        """Mails without ``X-Touchline-Template`` are named through notify's account timeline."""
        if customer is None or mail.delivery_id is None:
            return None
        if mail.delivery_id not in self._templates:
            for item in await self.client.timeline(customer.account_id):
                if item.get("channel") == "email":
                    self._templates[str(item.get("id"))] = item.get("template")
        return self._templates.get(mail.delivery_id)

    # --- what the CSMs see -----------------------------------------------------------------------

    async def tasks(self, customer: Customer) -> list[dict[str, Any]]:
        body = await self.client.get_json("notify", "/v1/tasks", account_id=customer.account_id, limit=1000)
        return list(body["tasks"])

    def day_of(self, text: str) -> int:
        """The simulated day an ISO timestamp falls on (days start at 00:00 of the start's date)."""
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        return (when - midnight).days
