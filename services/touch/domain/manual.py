"""Enrolment by hand: the Idempotency-Key a client may send, and what a repeated key means. Pure.

A client that times out and retries must not enrol the account twice (a run that ends at once, such
as re-engagement's news mail, would send twice; a commit that failed after the commands went out
would send them again under new ids). With a key, the enrolment's id, and so every command id, is
derived from account + playbook + key: a retry after any failure recomputes the same ids, which
notify drops, and a retry after a success gets the stored enrolment back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class BadKey(ValueError):
    """The header's value cannot be a key."""


class KeyReused(ValueError):
    """The key was first sent with a different request."""


@dataclass(frozen=True)
class ManualRequest:
    account_id: str
    playbook: str
    by: str


@dataclass(frozen=True)
class KeyRecord:
    """A key as stored with the request it first came with and the enrolment that request created."""

    key: str
    request: ManualRequest
    enrolment_id: str
    created_at: datetime


def parse_key(raw: str) -> str:
    """The key in the header: a token, or a quoted string (the IETF draft's sf-string form)."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not value or len(value) > MAX_KEY_LENGTH or any(not " " <= c <= "~" for c in value):
        raise BadKey(f"{HEADER}: must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (e.g. a UUID)")
    return value


def manual_cause(*, by: str, key: str | None, nonce: str) -> str:
    """What an enrolment by hand is derived from: the key when there is one, else a fresh nonce."""
    return f"manual-key:{key}" if key is not None else f"manual:{by}:{nonce}"


def check_replay(stored: KeyRecord, request: ManualRequest) -> None:
    """Raise KeyReused unless ``request`` is the one the key first came with."""
    if stored.request == request:
        return
    differs = ", ".join(
        f"{f.name} {getattr(request, f.name)!r} (first {getattr(stored.request, f.name)!r})"
        for f in fields(ManualRequest)
        if getattr(request, f.name) != getattr(stored.request, f.name)
    )
    raise KeyReused(
        f"{HEADER}: {stored.key!r} was already used for a different request ({differs}); "
        "send a new key for a new request"
    )
