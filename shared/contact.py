"""Did the CSM reach the customer? Read by health (last contact, relationship) and touch (the
re-engagement clock), so both count the same contacts: one rule, ``csm_contact``.

A logged activity (outcome ``activity.logged``) is contact when it reached the customer and is not
a note: a call nobody answered, a mail with no reply, or a note to self is not.

notify publishes ``task.completed`` with ``detail = "<status>: <reason>"``: status ``closed``
means the task was closed without being done; ``completed`` with one of the console's no-contact
close reasons (customer_unreachable, not_needed, duplicate) or a reason saying the customer could
not be reached (in English or Japanese) is no contact either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACTIVITY_KINDS = ("call", "meeting", "email", "note")

NO_CONTACT_REASONS = frozenset({"customer_unreachable", "not_needed", "duplicate"})
NO_CONTACT_WORDS = (
    "unreachable",
    "not reachable",
    "could not reach",
    "couldn't reach",
    "cannot reach",
    "can't reach",
    "not reached",
    "no answer",
    "no response",
    "no reply",
    "did not answer",
    "didn't answer",
    "voicemail",
    "連絡が取れ",
    "連絡がとれ",
    "連絡つかず",
    "不在",
    "応答なし",
    "返信なし",
)


def task_reached_customer(detail: str) -> bool:
    """True unless the close detail says the task was closed undone or the customer was not reached."""
    status, _, reason = detail.partition(":")
    if not reason and status.strip() not in ("completed", "closed"):
        status, reason = "completed", detail  # a producer that sent only the reason
    if status.strip().lower() == "closed":
        return False
    text = reason.strip().lower()
    if text.partition(":")[0].strip() in NO_CONTACT_REASONS:
        return False
    return not any(word in text for word in NO_CONTACT_WORDS)


def activity_reached_customer(*, kind: str, reached: bool) -> bool:
    """A logged call, meeting or email that reached the customer; a note never does."""
    return reached is True and kind in ACTIVITY_KINDS and kind != "note"


def csm_contact(*, kind: str, detail: str, activity: Mapping[str, Any] | None) -> bool:
    """Is this outcome (its kind, detail and, for ``activity.logged``, its activity) CSM contact?"""
    if kind == "task.completed":
        return task_reached_customer(detail)
    if kind == "activity.logged" and activity is not None:
        return activity_reached_customer(kind=str(activity.get("kind")), reached=activity.get("reached") is True)
    return False
