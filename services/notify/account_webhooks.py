"""Account events for CRMs: touch's ``webhook`` commands (band or tier changed) -> one signed
delivery per configured Standard Webhooks endpoint, through the same queue, retries and 410
handling as task webhooks (delivery.py). Slack endpoints are not told: they hear of tasks only."""

from __future__ import annotations

from typing import Any, Protocol

from touchline.shared.messages import Command

from .ports import TaskRepository

# The event types a CRM may subscribe to (the payload's "type"); touch's crm_events makes them.
ACCOUNT_EVENT_TYPES = ("account.band_changed", "account.tier_changed")


class HasEndpoints(Protocol):
    @property
    def endpoints(self) -> Any: ...


def account_event_payload(cmd: Command) -> dict[str, Any]:
    """The body a receiver gets: the same envelope as task webhooks (type, timestamp, data)."""
    return {"type": cmd.template, "timestamp": cmd.issued_at.isoformat(), "data": dict(cmd.variables)}


async def on_account_event(repo: TaskRepository, endpoints: HasEndpoints, cmd: Command) -> None:
    if cmd.template not in ACCOUNT_EVENT_TYPES:
        # A producer bug, not a transient failure: dead-lettered with this reason.
        raise ValueError(f"webhook: unknown event type {cmd.template!r}; expected one of {ACCOUNT_EVENT_TYPES}")
    payload = account_event_payload(cmd)
    for endpoint in await repo.live_endpoints(endpoints.endpoints):
        if endpoint["kind"] == "slack":
            continue
        await repo.insert_webhook(
            # Per endpoint and command: a redelivered command queues nothing new (ON CONFLICT DO NOTHING).
            delivery_id=f"{endpoint['id']}:{cmd.command_id}",
            endpoint_id=endpoint["id"],
            event_type=str(cmd.template),
            payload=payload,
            now=cmd.issued_at,
        )
