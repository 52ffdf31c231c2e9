"""A CSM's logged call, meeting, email or note on an account: what makes one valid, and the outcome
that tells health and touch about it (``activity.logged``; what counts as contact is
``touchline.shared.contact``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, time
from typing import Any

from touchline.shared.contact import ACTIVITY_KINDS, activity_reached_customer
from touchline.shared.messages import Outcome

from .when import parse_when

MAX_OUTCOME = 10_000
MAX_NAME = 320


class InvalidActivity(ValueError):
    """One field is wrong; ``field`` names it (the API answers 422 with it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Activity:
    kind: str
    contact: str | None
    occurred_at: datetime
    outcome: str
    reached: bool
    relationship: int | None
    csm: str

    @property
    def is_contact(self) -> bool:
        return activity_reached_customer(kind=self.kind, reached=self.reached)


def parse_occurred(value: str, *, now: datetime) -> datetime:
    """A date (``2027-01-10``: that day, 00:00 UTC) or a time with a zone; never in the future."""
    try:
        at = parse_when(value, time_of_day=time(0, 0))
    except ValueError as exc:
        raise InvalidActivity("occurred_at", str(exc)) from None
    if at > now:
        raise InvalidActivity("occurred_at", f"{at.isoformat()} is in the future (now {now.isoformat()})")
    return at


def validate(
    *,
    kind: str,
    contact: str | None,
    occurred_at: str,
    outcome: str,
    reached: bool | None,
    relationship: int | None,
    csm: str,
    now: datetime,
) -> Activity:
    """The activity, or InvalidActivity naming the first wrong field."""
    texts = {"kind": kind, "csm": csm, "contact": contact, "occurred_at": occurred_at, "outcome": outcome}
    for name, value in texts.items():
        if value is not None and "\x00" in value:
            raise InvalidActivity(name, "must not contain a NUL character")  # Postgres text cannot hold it
    if kind not in ACTIVITY_KINDS:
        raise InvalidActivity("kind", f"{kind!r} is not one of {', '.join(ACTIVITY_KINDS)}")
    csm = csm.strip()
    if not csm or len(csm) > MAX_NAME:
        raise InvalidActivity("csm", f"name who logged it (1-{MAX_NAME} characters)")
    contact = (contact or "").strip() or None
    if contact is None and kind != "note":
        raise InvalidActivity("contact", f"a {kind} needs the person you spoke to or tried to reach")
    if contact is not None and len(contact) > MAX_NAME:
        raise InvalidActivity("contact", f"at most {MAX_NAME} characters")
    at = parse_occurred(occurred_at, now=now)
    outcome = outcome.strip()
    if not outcome or len(outcome) > MAX_OUTCOME:
        raise InvalidActivity("outcome", f"say what happened (1-{MAX_OUTCOME} characters)")
    if kind == "note":
        if reached:
            raise InvalidActivity("reached", "a note is not contact with the customer: leave reached out or false")
        reached = False
    elif reached is None:
        raise InvalidActivity("reached", f"say whether the {kind} reached the customer (true or false)")
    if relationship is not None:
        if not 1 <= relationship <= 5:
            raise InvalidActivity("relationship", f"{relationship} is not a rating from 1 to 5")
        if not activity_reached_customer(kind=kind, reached=reached):
            raise InvalidActivity(
                "relationship", "rate the relationship only on a call, meeting or email that reached the customer"
            )
    return Activity(kind, contact, at, outcome, reached, relationship, csm)


def row_of(activity: Activity, *, activity_id: str, account_id: str, now: datetime) -> dict[str, Any]:
    return {"id": activity_id, "account_id": account_id, **asdict(activity), "created_at": now}


def same_activity(stored: dict[str, Any], row: dict[str, Any]) -> bool:
    """A retry logs the same activity on the same account (when it was sent does not matter)."""
    keys = ("account_id", "kind", "contact", "occurred_at", "outcome", "reached", "relationship", "csm")
    return all(stored[k] == row[k] for k in keys)


def outcome_of(row: dict[str, Any]) -> Outcome:
    """``activity.logged`` at the time the activity happened (health's last contact is that time)."""
    occurred: datetime = row["occurred_at"]
    return Outcome(
        outcome_id=f"notify:activity:{row['id']}",
        account_id=row["account_id"],
        kind="activity.logged",
        detail=f"{row['kind']}: {'reached' if row['reached'] else 'not reached'}",
        occurred_at=occurred,
        activity={
            "kind": row["kind"],
            "reached": row["reached"],
            "relationship": row["relationship"],
            "occurred_at": occurred.isoformat(),
            "csm": row["csm"],
            "contact": row["contact"],
        },
    )
