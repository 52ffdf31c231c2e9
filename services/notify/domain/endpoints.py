"""Webhook endpoints come from configuration; which of the queued webhooks may still be sent.

Several notify instances can share one database with different configurations (replicas rolling
out a new one, test instances). So no instance deletes or fails another's endpoints: each one
sends only to endpoints its own configuration names, and says so by stamping them (configured_at)
as it runs. An endpoint no running instance has stamped for a while was removed from every
configuration: what is still queued for it is recorded as unconfigured, never sent — unless a
running configuration names the same URL (and kind) with another secret: that is a rotated secret,
and the live endpoint takes the queue over (see ``settle_orphans``).

An endpoint is its kind, URL *and* secret: two configurations naming one URL with different secrets
(a secret being rotated replica by replica, two instances of different owners) are two endpoints,
each signing with its own secret, instead of one row whose secret the last instance to start wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    kind: str  # "standard" (Standard Webhooks, signed) | "slack"
    secret: str | None = None  # the Standard Webhooks secret (whsec_...); None for Slack


def endpoint_id(url: str, *, kind: str = "standard", secret: str | None = None) -> str:
    """Stable across instances and restarts: the same kind, URL and secret are the same endpoint everywhere.

    The id reaches receivers inside ``webhook-id``; a receiver holds the secret anyway, and 64 bits of
    a SHA-256 tell nobody else anything about a random secret.
    """
    identity = "\0".join(("touchline-webhook-endpoint", kind, url, secret or ""))
    return "ep-" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def configured_endpoints(*, webhook_urls: Sequence[str], webhook_secret: str, slack_webhook_url: str) -> list[Endpoint]:
    """The configuration's endpoints, each URL once; a URL both signed and Slack is refused (ValueError)."""
    if slack_webhook_url and slack_webhook_url in webhook_urls:
        position = list(webhook_urls).index(slack_webhook_url)
        raise ValueError(
            f"webhook_urls[{position}] and slack_webhook_url name the same URL {slack_webhook_url!r}: "
            "it would get both Standard Webhooks and Slack payloads; keep it in one of them"
        )
    endpoints = [
        Endpoint(endpoint_id(url, secret=webhook_secret), url, "standard", webhook_secret)
        for url in dict.fromkeys(webhook_urls)
    ]
    if slack_webhook_url:
        endpoints.append(Endpoint(endpoint_id(slack_webhook_url, kind="slack"), slack_webhook_url, "slack"))
    return endpoints


def orphaned(*, configured_at: datetime | None, now: datetime, after: timedelta) -> bool:
    """True when no running instance has named the endpoint for ``after``: it left every configuration."""
    return configured_at is None or now - configured_at >= after


@dataclass(frozen=True)
class Seen:
    """An endpoint row as the webhook loop sees it: who last said they configure it, and when."""

    id: str
    url: str
    kind: str
    configured_at: datetime | None


@dataclass(frozen=True)
class Settlement:
    moves: list[tuple[str, str]]  # (orphaned endpoint, live endpoint of the same URL and kind)
    drops: list[str]  # orphaned endpoints nobody configures the URL of: their queue is not sent


def settle_orphans(endpoints: Sequence[Seen], *, now: datetime, after: timedelta) -> Settlement:
    """What becomes of the queues of endpoints no running instance names any more.

    A live endpoint with the same URL and kind (the same receiver, now named with another secret: a
    rotated secret, or an identity from before the secret was part of it) takes the queue over and
    signs it with its secret; the one stamped last wins when several do. Otherwise the URL left every
    configuration and its queue is not sent. Decided from every instance's endpoints, not only this
    one's: an instance that does not name the URL must not drop what another one would send.
    """
    live = [e for e in endpoints if not orphaned(configured_at=e.configured_at, now=now, after=after)]
    moves: list[tuple[str, str]] = []
    drops: list[str] = []
    for e in endpoints:
        if e in live:
            continue
        heirs = [h for h in live if h.url == e.url and h.kind == e.kind]
        if heirs:
            moves.append((e.id, max(heirs, key=lambda h: (h.configured_at or now, h.id)).id))
        else:
            drops.append(e.id)
    return Settlement(moves=moves, drops=drops)
