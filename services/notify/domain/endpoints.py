"""Webhook endpoints come from configuration; which of the queued webhooks may still be sent.

Several notify instances can share one database with different configurations (replicas rolling
out a new one, test instances). So no instance deletes or fails another's endpoints: each one
sends only to endpoints its own configuration names, and says so by stamping them (configured_at)
as it runs. An endpoint no running instance has stamped for a while was removed from every
configuration: what is still queued for it is recorded as unconfigured, never sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    kind: str  # "standard" (Standard Webhooks, signed) | "slack"


def endpoint_id(url: str) -> str:
    """Stable across instances and restarts: the same URL is the same endpoint everywhere."""
    return "ep-" + hashlib.sha256(url.encode()).hexdigest()[:16]


def configured_endpoints(*, webhook_urls: list[str], slack_webhook_url: str) -> list[Endpoint]:
    endpoints = [Endpoint(endpoint_id(url), url, "standard") for url in dict.fromkeys(webhook_urls)]
    if slack_webhook_url:
        endpoints.append(Endpoint(endpoint_id(slack_webhook_url), slack_webhook_url, "slack"))
    return endpoints


def orphaned(*, configured_at: datetime | None, now: datetime, after: timedelta) -> bool:
    """True when no running instance has named the endpoint for ``after``: it left every configuration."""
    return configured_at is None or now - configured_at >= after
