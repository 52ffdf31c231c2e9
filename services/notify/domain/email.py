"""Who gets a mail, in which language, whether it may be sent, and what to do when sending fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-4c5d-9e6f-70819a2b3c4d")
LOCALES = ("ja", "en")


@dataclass(frozen=True)
class Contact:
    user_id: str
    email: str | None = None
    name: str | None = None
    locale: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str | None = None
    csm_owner: str | None = None
    locale: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None
    locale: str
    user_id: str | None
    # Mail to our own CSMs is operational: an unsubscribe never silences it.
    internal: bool = False


ADMIN_ROLES = ("admin", "decision_maker")


def addressed(role: str, *, user_ids: Sequence[str], contacts: Iterable[Contact]) -> list[Contact]:
    """The contacts a customer-facing role names: ``user`` the listed ids, ``admins`` the admins and
    decision makers (all contacts when the account has none), ``users`` the contacts who are not admins
    (end users: none when every contact is an admin), ``contacts`` everyone."""
    known = list(contacts)
    if role == "user":
        wanted = set(user_ids)
        return [c for c in known if c.user_id in wanted]
    if role == "admins":
        return [c for c in known if c.role in ADMIN_ROLES] or known
    if role == "users":
        return [c for c in known if c.role not in ADMIN_ROLES]
    return known


def pick_locale(*candidates: str | None, default: str) -> str:
    """The first supported locale among contact's, account's ...; else the default."""
    for candidate in candidates:
        if candidate:
            short = candidate.replace("_", "-").split("-")[0].lower()
            if short in LOCALES:
                return short
    return default


def resolve_recipients(
    *,
    role: str,
    user_ids: Sequence[str],
    contacts: Iterable[Contact],
    account: Account | None,
    default_locale: str,
) -> list[Recipient]:
    """The people a command addresses, de-duplicated by address; people without an address are left out."""
    account_locale = account.locale if account else None
    known = [c for c in contacts if c.email]
    if role == "csm_owner":
        owner = account.csm_owner if account else None
        if not owner:
            return []
        return [Recipient(owner, None, pick_locale(account_locale, default=default_locale), None, internal=True)]
    chosen = addressed(role, user_ids=user_ids, contacts=known)
    seen: set[str] = set()
    out = []
    for c in sorted(chosen, key=lambda c: c.user_id):
        address = (c.email or "").strip()
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        out.append(Recipient(address, c.name, pick_locale(c.locale, account_locale, default=default_locale), c.user_id))
    return out


def delivery_id(command_id: str, email: str) -> str:
    """Deterministic: the same command to the same address is always the same delivery."""
    return str(uuid.uuid5(_NAMESPACE, f"{command_id}\n{email.strip().lower()}"))


def suppressed(recipient: Recipient, *, unsubscribed: bool) -> bool:
    return unsubscribed and not recipient.internal


SmtpVerdict = Literal["transient", "permanent"]


def classify_smtp(code: int | None) -> SmtpVerdict:
    """5xx replies are final; 4xx replies and no reply at all (server away) are worth retrying."""
    if code is not None and 500 <= code < 600:
        return "permanent"
    return "transient"


def gives_up(*, first_attempt_at: datetime, now: datetime, after: timedelta) -> bool:
    return now - first_attempt_at >= after


def is_machine_open(*, sent_at: datetime | None, opened_at: datetime, within_seconds: float) -> bool:
    """Prefetchers (Apple MPP, scanners) open within seconds of delivery; people rarely do."""
    if sent_at is None:
        return True
    return (opened_at - sent_at).total_seconds() < within_seconds
