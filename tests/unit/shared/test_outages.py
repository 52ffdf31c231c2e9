"""Which failures are a dependency being away (retry without limit) and which are the work's fault."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_errors

from touchline.shared.outages import dependency_away, is_transient


def wrapped(orig: BaseException, *, invalidated: bool = False) -> sa_errors.DBAPIError:
    """What SQLAlchemy raises for an asyncpg error it has no more specific class for."""
    try:
        raise orig
    except BaseException as caught:
        error = sa_errors.DBAPIError("SELECT 1", {}, caught, connection_invalidated=invalidated)
        error.__cause__ = caught
        return error


@pytest.mark.parametrize(
    "orig",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_postgres_going_away_is_an_outage_raw_or_wrapped_by_sqlalchemy(orig: BaseException) -> None:
    assert dependency_away(orig) == "database"
    assert dependency_away(wrapped(orig)) == "database"


@pytest.mark.parametrize(
    "orig",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions.NumericValueOutOfRangeError("value out of range"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_postgres_refusing_the_data_is_the_records_fault(orig: BaseException) -> None:
    assert not is_transient(orig)
    assert not is_transient(wrapped(orig))


def test_an_error_sqlalchemy_saw_invalidate_its_connection_is_an_outage() -> None:
    assert dependency_away(wrapped(ValueError("socket closed"), invalidated=True)) == "database"


def test_the_pool_giving_up_waiting_for_a_connection_is_an_outage() -> None:
    assert dependency_away(sa_errors.TimeoutError("QueuePool limit reached")) == "database"


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError(111, "refused"), FileNotFoundError(2, "no socket"), TimeoutError()]
)
def test_a_refused_or_missing_socket_is_an_outage(error: BaseException) -> None:
    assert dependency_away(error) == "network"


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaConnectionError(),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.BrokerNotAvailableError(),
        kafka_errors.OutOfOrderSequenceNumber(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_broker_going_away_is_an_outage(error: BaseException) -> None:
    assert dependency_away(error) == "broker"


@pytest.mark.parametrize(
    "error",
    [kafka_errors.MessageSizeTooLargeError(), kafka_errors.RecordTooLargeError()],
    ids=lambda e: type(e).__name__,
)
def test_a_record_the_broker_can_never_take_is_the_records_fault(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_handler_error_raised_from_an_outage_is_an_outage() -> None:
    try:
        try:
            raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
        except Exception as exc:
            raise RuntimeError("could not load the account") from exc
    except RuntimeError as outer:
        assert dependency_away(outer) == "database"


def test_a_bug_is_not_an_outage_even_when_it_happened_while_handling_one() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError:
            raise KeyError("account_id")  # noqa: B904 -- the point: no explicit cause
    except KeyError as bug:
        assert not is_transient(bug)
