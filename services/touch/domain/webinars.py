"""Webinars: one-to-many touch for a segment of accounts (the seeds' low touch). Pure.

touch owns the webinar (title, start, capacity) and the segment it is for (tiers and phases are
touch's); inviting turns every matching account into one email command to its admins. notify
owns what people do with the mail: the signed RSVP link and the seats taken (docs/notify.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from touchline.shared.messages import Command, Recipients

from .segments import Segment

INVITE_TEMPLATE = "webinar.invite"


@dataclass(frozen=True)
class Webinar:
    id: str
    title: str
    starts_at: datetime
    capacity: int
    segment: Segment
    created_at: datetime


def invitation(webinar: Webinar, account_id: str, *, at: datetime) -> Command:
    """The invite for one account. Its id is the webinar's and the account's: inviting the segment
    again sends nothing twice (notify keeps one delivery per command and address)."""
    command_id = f"webinar:{webinar.id}:{account_id}"
    return Command(
        command_id=command_id,
        account_id=account_id,
        channel="email",
        template=INVITE_TEMPLATE,
        recipients=Recipients(role="admins"),
        variables={
            "webinar": {
                "id": webinar.id,
                "title": webinar.title,
                "starts_at": webinar.starts_at.isoformat(),
                "capacity": webinar.capacity,
            }
        },
        dedup_key=command_id,
        issued_at=at,
    )
