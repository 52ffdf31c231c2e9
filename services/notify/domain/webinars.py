"""RSVPs to a webinar invitation (touch owns the webinar; notify the mail and the seats). Pure.

The invitation's RSVP link signs the webinar id and its capacity into the token, so the page that
records the RSVP needs nothing from touch: a forged link cannot claim another webinar or more seats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

INVITE_TEMPLATE = "webinar.invite"  # touch's invitation (touchline.touch.domain.webinars)


class BadWebinar(ValueError):
    """The command's ``variables.webinar`` cannot make an RSVP link; names the field."""


def rsvp_claim(webinar: Mapping[str, Any]) -> dict[str, Any]:
    """What an RSVP token carries: ``{"webinar": id, "capacity": seats}``."""
    webinar_id = webinar.get("id")
    capacity = webinar.get("capacity")
    if not isinstance(webinar_id, str) or not webinar_id:
        raise BadWebinar("variables.webinar.id: expected a non-empty string")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise BadWebinar("variables.webinar.capacity: expected a positive integer")
    return {"webinar": webinar_id, "capacity": capacity}


Verdict = Literal["registered", "already", "full"]


@dataclass(frozen=True)
class Seats:
    taken: int
    mine: bool  # this address already holds a seat


def decide_rsvp(seats: Seats, *, capacity: int) -> Verdict:
    """One seat per address; a repeated RSVP is the same seat; none beyond the capacity."""
    if seats.mine:
        return "already"
    return "registered" if seats.taken < capacity else "full"
