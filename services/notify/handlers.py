"""Consumer-side handlers: one per message type, listed in HANDLERS; commands dispatch by channel.

Message -> ports -> domain -> ports: every read and write goes through a NotifyRepository (the
batch's transaction; ``adapters.pg_repository`` in the service, a fake in unit tests). Nothing here
talks to SMTP or webhooks: a command becomes durable rows (deliveries "pending", inbox messages,
tasks, or a parked email command waiting for its recipient) and staged outcomes in the consumer's
transaction; loops send later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from touchline.shared.cloudevents import Envelope
from touchline.shared.db import dedup_key
from touchline.shared.fates import DUPLICATE, UNKNOWN_TYPE, BatchResult
from touchline.shared.messages import Command, Message, ProductEvent

from .account_webhooks import on_account_event
from .compose import Composer, template_context
from .domain import waiting
from .domain.email import (
    Account,
    Contact,
    Recipient,
    addressed,
    delivery_id,
    pick_locale,
    resolve_recipients,
    suppressed,
)
from .domain.milestones import Milestone
from .domain.milestones import from_event as milestone_from_event
from .domain.outcomes import outcome_for
from .domain.surveys import BadAnswer, offered_features
from .domain.webinars import INVITE_TEMPLATE, BadWebinar, rsvp_claim
from .ports import NotifyRepository
from .task_handlers import TaskDeps, on_task_command
from .templates import Catalog

log = logging.getLogger(__name__)
_INAPP_NS = uuid.UUID("0c5b8e39-3f0e-4d0b-a9f1-5a8f7e2b6c11")
# The trace context of the record being handled (Envelope.traceparent), kept with the deliveries it
# makes so the delivery loop's SMTP send joins the trace. A context variable rather than an
# argument: it rides along every channel handler and the parked-command release unchanged.
_TRACEPARENT: ContextVar[str | None] = ContextVar("notify_traceparent", default=None)


@dataclass(frozen=True)
class Deps:
    composer: Composer
    tasks: TaskDeps
    inapp_expiry: timedelta
    now: Callable[[], datetime]
    # How long an email command with no known recipient waits for one (service clock).
    recipient_wait: timedelta = timedelta(hours=24)


async def on_event(repo: NotifyRepository, deps: Deps, event: ProductEvent) -> None:
    """identify/group build the contacts directory; everything else is for other services."""
    now = deps.now()
    if event.kind == "identify" and event.user_id:
        await repo.upsert_contact(account_id=event.account_id, user_id=event.user_id, traits=event.traits, now=now)
    elif event.kind == "group":
        await repo.upsert_account(account_id=event.account_id, traits=event.traits, now=now)
        if event.user_id:
            await repo.upsert_contact(account_id=event.account_id, user_id=event.user_id, traits={}, now=now)
    else:
        if event.kind == "track" and (m := milestone_of(event)) is not None:
            await repo.add_milestone(m, now=now)
        return
    await release_parked(repo, deps, event.account_id)


def milestone_of(event: ProductEvent) -> Milestone | None:
    """A "Release Published" / "Training Completed" track event is a milestone (domain/milestones.py)."""
    return milestone_from_event(
        message_id=event.message_id,
        event=event.event,
        account_id=event.account_id,
        properties=event.properties,
        occurred_at=event.timestamp,
    )


def survey_refusal(catalog: Catalog, template: str, variables: Mapping[str, Any]) -> str | None:
    """Why a command cannot be carried out as asked (a feature survey without features to offer:
    an empty survey nobody can answer is never rendered; a webinar invitation whose webinar cannot
    make an RSVP link), or None."""
    webinar = variables.get("webinar")
    if webinar is not None or template == INVITE_TEMPLATE:
        try:
            rsvp_claim(webinar if isinstance(webinar, Mapping) else {})
        except BadWebinar as exc:
            return f"refused: {exc}"
    if catalog.survey_of(template) != "feature_usefulness":
        return None
    try:
        offered_features(variables)
    except BadAnswer as exc:
        return f"refused: {exc}"
    return None


async def on_email(repo: NotifyRepository, deps: Deps, cmd: Command) -> None:
    await settle_email(repo, deps, cmd, deadline=None)


async def settle_email(repo: NotifyRepository, deps: Deps, cmd: Command, *, deadline: datetime | None) -> bool:
    """Deliver the command, park it until a recipient is known, or report it failed.

    ``deadline`` is the parked command's (None when first seen). True when it is settled: delivered
    or failed, so no longer parked.
    """
    now = deps.now()
    source = cmd.model_dump()
    source["id"] = cmd.command_id
    template = cmd.template or ""
    if not deps.composer.catalog.has_email(template):
        detail = f"no email template {template!r}"
        await repo.add_outcomes(
            [outcome_for(source, kind="email.failed", occurrence="template", now=now, detail=detail)]
        )
        return True
    refusal = survey_refusal(deps.composer.catalog, template, cmd.variables)
    if refusal:
        outcome = outcome_for(source, kind="email.failed", occurrence="refused", now=now, detail=refusal)
        await repo.add_outcomes([outcome])
        return True
    account = await repo.get_account(cmd.account_id)
    contacts = await repo.list_contacts(cmd.account_id)
    recipients = resolve_recipients(
        role=cmd.recipients.role,
        user_ids=cmd.recipients.user_ids,
        contacts=contacts,
        account=account,
        default_locale=deps.composer.default_locale,
    )
    decision = waiting.settle(
        has_recipients=bool(recipients), role=cmd.recipients.role, now=now, deadline=deadline, wait=deps.recipient_wait
    )
    if isinstance(decision, waiting.Park):
        if deadline is None and await repo.park(cmd, now=now, until=decision.until):
            log.info("email command parked until a recipient is known", extra={"command": cmd.command_id})
        return False
    if isinstance(decision, waiting.GiveUp):
        outcome = outcome_for(source, kind="email.failed", occurrence="norecipient", now=now, detail=decision.detail)
        await repo.add_outcomes([outcome])
        return True
    await _deliver(repo, deps, cmd, recipients=recipients, account=account, contacts=contacts, source=source)
    return True


async def _deliver(
    repo: NotifyRepository,
    deps: Deps,
    cmd: Command,
    *,
    recipients: Sequence[Recipient],
    account: Account | None,
    contacts: Sequence[Contact],
    source: dict[str, Any],
) -> None:
    now = deps.now()
    template = cmd.template or ""
    silenced = await repo.unsubscribed([r.email for r in recipients])
    by_user = {c.user_id: c for c in contacts}
    for recipient in recipients:
        did = delivery_id(cmd.command_id, recipient.email)
        contact = by_user.get(recipient.user_id or "") or Contact("", recipient.email, recipient.name)
        context = template_context(
            account=account,
            account_id=cmd.account_id,
            contact=contact,
            variables=cmd.variables,
            brand=deps.composer.brand,
        )
        row = deps.composer.delivery_row(
            delivery_id=did, template=template, recipient=recipient, context=context, now=now, source=source
        )
        if suppressed(recipient, unsubscribed=recipient.email.lower() in silenced):
            row["state"] = "suppressed"
        row["traceparent"] = _TRACEPARENT.get()
        if await repo.insert_delivery(row) and row.get("state") == "suppressed":
            await repo.add_outcomes(
                [
                    outcome_for(
                        row, kind="email.failed", occurrence="suppressed", now=now, detail="suppressed: unsubscribed"
                    )
                ],
            )


async def release_parked(repo: NotifyRepository, deps: Deps, account_id: str) -> int:
    """The account's directory changed: deliver what was waiting for it. Returns how many settled.

    Runs in the consumer's transaction, so the release, its deliveries and the consumed offset of
    the event that caused it commit together; the row lock keeps the expiry sweep off meanwhile.
    """
    settled = 0
    for parked in await repo.parked_for_account(account_id):
        if await settle_email(repo, deps, parked.command, deadline=parked.expires_at):
            await repo.unpark(parked.command_id)
            settled += 1
    return settled


async def expire_parked(repo: NotifyRepository, deps: Deps, *, limit: int = 100) -> int:
    """Settle parked commands whose wait is over (a last look for recipients, else email.failed),
    in the sweep's own transaction (``repo``'s)."""
    settled = 0
    for parked in await repo.parked_due(now=deps.now(), limit=limit):
        if await settle_email(repo, deps, parked.command, deadline=parked.expires_at):
            await repo.unpark(parked.command_id)
            settled += 1
    return settled


async def on_in_app(repo: NotifyRepository, deps: Deps, cmd: Command) -> None:
    now = deps.now()
    catalog = deps.composer.catalog
    if (cmd.template or "") not in catalog.inapp:
        raise ValueError(f"template: no in-app template {cmd.template!r}")
    refusal = survey_refusal(catalog, cmd.template or "", cmd.variables)
    if refusal:
        raise ValueError(refusal)  # dead-lettered with the reason: nothing to show, and nobody to tell
    account = await repo.get_account(cmd.account_id)
    contacts = {c.user_id: c for c in await repo.list_contacts(cmd.account_id)}
    if cmd.recipients.role == "user":
        user_ids = list(dict.fromkeys(cmd.recipients.user_ids))
    elif cmd.recipients.role in ("admins", "users"):
        user_ids = sorted(c.user_id for c in addressed(cmd.recipients.role, user_ids=[], contacts=contacts.values()))
    else:
        user_ids = sorted(contacts)
    stored: list[str] = []
    for user_id in user_ids:
        contact = contacts.get(user_id)
        locale = pick_locale(
            contact.locale if contact else None,
            account.locale if account else None,
            default=deps.composer.default_locale,
        )
        context = template_context(
            account=account,
            account_id=cmd.account_id,
            contact=contact,
            variables=cmd.variables,
            brand=deps.composer.brand,
        )
        rendered = catalog.render_inapp(cmd.template or "", locale=locale, context=context)
        days = rendered.expires_days
        expiry = timedelta(days=days) if days is not None else deps.inapp_expiry
        inserted = await repo.insert_inapp_message(
            {
                "id": str(uuid.uuid5(_INAPP_NS, f"{cmd.command_id}\n{user_id}")),
                "command_id": cmd.command_id,
                "account_id": cmd.account_id,
                "user_id": user_id,
                "template": cmd.template,
                "kind": rendered.kind,
                "survey": rendered.survey,
                "locale": locale,
                "title": rendered.title,
                "body": rendered.body,
                "question": rendered.question,
                "choices": rendered.choices,
                "cta_label": rendered.cta_label,
                "cta_url": rendered.cta_url,
                "playbook": cmd.playbook,
                "step": cmd.step,
                "enrolment_id": cmd.enrolment_id,
                "created_at": now,
                "expires_at": now + expiry,
            },
        )
        if inserted:
            stored.append(user_id)
    # In this transaction, so open streams (on any replica) hear of it exactly when it is committed.
    await repo.announce_inapp(stored)


async def on_task(repo: NotifyRepository, deps: Deps, cmd: Command) -> None:
    await on_task_command(repo, deps.tasks, cmd)


async def on_webhook(repo: NotifyRepository, deps: Deps, cmd: Command) -> None:
    await on_account_event(repo, deps.tasks, cmd)


CHANNELS: dict[str, Callable[[NotifyRepository, Deps, Command], Awaitable[None]]] = {
    "email": on_email,
    "in_app": on_in_app,
    "task": on_task,
    "webhook": on_webhook,
}


async def on_command(repo: NotifyRepository, deps: Deps, cmd: Command) -> None:
    tier = cmd.variables.get("tier")
    if isinstance(tier, str) and tier:
        # touch names the account's touch tier in every command (a group trait "tier" is ingest's plan
        # alias): kept for what notify tells others about the account (routed feedback, task pools).
        await repo.upsert_account(account_id=cmd.account_id, traits={"tier": tier}, now=deps.now())
    await CHANNELS[cmd.channel](repo, deps, cmd)


HANDLERS: dict[type[Message], Callable[[NotifyRepository, Deps, Message], Awaitable[None]]] = {
    ProductEvent: on_event,  # type: ignore[dict-item]
    Command: on_command,  # type: ignore[dict-item]
}


async def handle_batch(envelopes: Sequence[Envelope], *, repo: NotifyRepository, deps: Deps) -> BatchResult:
    """One consumer batch, in ``repo``'s transaction (the runner's). Outcomes go through the outbox,
    so nothing is returned to publish; the result names the records not applied and why."""
    result = BatchResult()
    wanted = []
    for env in envelopes:
        if type(env.message) in HANDLERS:
            wanted.append(env)
        else:
            result.skip(env, UNKNOWN_TYPE)
    fresh = await repo.first_seen([dedup_key(e) for e in wanted], now=deps.now())
    handled: set[str] = set()  # a producer's retry can put two copies of a record in one batch
    for env in wanted:
        key = dedup_key(env)
        if key not in fresh or key in handled:
            result.skip(env, DUPLICATE)
            continue
        handled.add(key)
        if env.traceparent is None:
            await HANDLERS[type(env.message)](repo, deps, env.message)
            continue
        token = _TRACEPARENT.set(env.traceparent)
        try:
            await HANDLERS[type(env.message)](repo, deps, env.message)
        finally:
            _TRACEPARENT.reset(token)
    return result
