"""Is this failure a dependency being away (wait and retry) or the work's own fault (give up on it)?

A consumer that mistakes an outage for a bad record dead-letters valid events and may stop the
process; one that mistakes a bad record for an outage blocks its partition for ever. The
classification below is by exception class and, for Postgres, by SQLSTATE:

- class 08 (connection exception), 57P01/57P02/57P03 (admin or crash shutdown, "the database
  system is shutting down / starting up"), 53300 (too many connections), 53xxx (server out of
  resources), 40001/40P01 (serialization failure, deadlock: the same work succeeds when retried),
  55P03 (lock not available) -- whether raised by asyncpg itself or wrapped by SQLAlchemy;
- SQLAlchemy's pool timeout and disconnect errors, and any error SQLAlchemy marked as having
  invalidated its connection;
- OSError (connection refused, socket file gone while Postgres restarts), TimeoutError;
- aiokafka errors, except the few that say the record itself can never be written.

Causes (``raise ... from``) are followed: a handler that wraps a connection error in its own
exception still describes an outage.
"""

from __future__ import annotations

from typing import Literal

import asyncpg
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_errors

Dependency = Literal["database", "broker", "network"]

# SQLSTATEs (or their two-character classes) that mean "try the same work again later".
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53"})
TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03"})

# Kafka errors about the record, not the broker: retrying the same record cannot succeed.
RECORD_FAULTS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidTimestampError,
    kafka_errors.InvalidMessageError,
)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an asyncpg error, or of the asyncpg error a SQLAlchemy one wraps."""
    for candidate in (exc, getattr(exc, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def _own_dependency(exc: BaseException) -> Dependency | None:
    """Which dependency ``exc`` itself says is away (ignoring its causes)."""
    code = sqlstate(exc)
    if code is not None:
        return "database" if code[:2] in TRANSIENT_SQLSTATE_CLASSES or code in TRANSIENT_SQLSTATES else None
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return "database"
    if isinstance(exc, (sa_errors.OperationalError, sa_errors.InterfaceError, sa_errors.DisconnectionError)):
        return "database"
    if isinstance(exc, sa_errors.TimeoutError):  # the pool waited for a connection in vain
        return "database"
    if isinstance(exc, asyncpg.InterfaceError):  # "connection is closed" and the like, client side
        return "database"
    if isinstance(exc, kafka_errors.KafkaError):
        return None if isinstance(exc, RECORD_FAULTS) else "broker"
    if isinstance(exc, (OSError, TimeoutError)):
        return "network"
    return None


def dependency_away(exc: BaseException) -> Dependency | None:
    """The dependency whose absence caused ``exc`` (following explicit causes), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _own_dependency(current)
        if found is not None:
            return found
        if sqlstate(current) is not None:
            return None  # Postgres named the problem and it is not an outage: do not look further
        current = current.__cause__
    return None


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble (retry for as long as it lasts) as opposed to a bad record (dead-letter it)."""
    return dependency_away(exc) is not None
