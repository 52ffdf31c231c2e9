"""Did closing a CSM task mean the CSM reached the customer? Read by health (last contact) and
touch (the re-engagement clock), so both count the same contacts.

notify publishes ``task.completed`` with ``detail = "<status>: <reason>"``: status ``closed``
means the task was closed without being done; ``completed`` with one of the console's no-contact
close reasons (customer_unreachable, not_needed, duplicate) or a reason saying the customer could
not be reached (in English or Japanese) is no contact either.
"""

from __future__ import annotations

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
