"""Newsletters: tech touch to a segment, one mail per account to all its contacts. Pure.

A newsletter is a customer message like a playbook's: it counts towards the same message cap
(``MessageCap``), and an account whose window is full is skipped, not queued — a newsletter read a
week late is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from touchline.shared.messages import Command, Recipients

from .segments import Segment

NEWSLETTER_TEMPLATE = "newsletter.issue"


@dataclass(frozen=True)
class Item:
    title: str
    url: str


@dataclass(frozen=True)
class Newsletter:
    id: str
    title: str
    intro: str
    items: tuple[Item, ...]
    segment: Segment


def newsletter_command(newsletter: Newsletter, account_id: str, *, at: datetime) -> Command:
    """Its id is the newsletter's and the account's: sent once per account, whatever retries."""
    command_id = f"newsletter:{newsletter.id}:{account_id}"
    return Command(
        command_id=command_id,
        account_id=account_id,
        channel="email",
        template=NEWSLETTER_TEMPLATE,
        recipients=Recipients(role="contacts"),
        variables={
            "newsletter": {
                "id": newsletter.id,
                "title": newsletter.title,
                "intro": newsletter.intro,
                "items": [{"title": i.title, "url": i.url} for i in newsletter.items],
            }
        },
        dedup_key=command_id,
        issued_at=at,
    )
