"""Repeated identical warnings/errors are rate-limited, with a count of what was dropped."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiokafka.errors import KafkaConnectionError

from touchline.shared.logs import JsonFormatter, RepeatLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, FakeClock]]:
    out = io.StringIO()
    clock = FakeClock()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("test"))
    handler.addFilter(RepeatLimiter(10.0, clock=clock))
    logger = logging.getLogger(f"test.repeats.{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, out, clock
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_an_outage_logging_90_errors_a_second_writes_one_line_per_kind_per_window(logged) -> None:  # type: ignore[no-untyped-def]
    logger, out, clock = logged
    start = clock.now
    for tick in range(25 * 90):  # 25 seconds at 90 lines a second
        clock.now = start + tick / 90
        logger.warning("batch attempt failed", extra={"error": repr(KafkaConnectionError("broker down"))})
    written = lines(out)
    assert len(written) == 3  # at 0 s, 10 s and 20 s
    assert "suppressed" not in written[0]
    assert [w["suppressed"] for w in written[1:]] == [899, 899]
    assert {w["msg"] for w in written} == {"batch attempt failed"}


def test_different_error_kinds_and_messages_are_limited_separately(logged) -> None:  # type: ignore[no-untyped-def]
    logger, out, _ = logged
    for _ in range(5):
        logger.warning("batch attempt failed", extra={"error": "KafkaConnectionError('x')"})
        logger.warning("batch attempt failed", extra={"error": "DBAPIError('shutting down')"})
        logger.error("dead-lettering record", extra={"reason": "bad json"})
    assert [(w["msg"], w.get("error")) for w in lines(out)] == [
        ("batch attempt failed", "KafkaConnectionError('x')"),
        ("batch attempt failed", "DBAPIError('shutting down')"),
        ("dead-lettering record", None),
    ]


def test_info_lines_are_never_limited(logged) -> None:  # type: ignore[no-untyped-def]
    logger, out, _ = logged
    for n in range(20):
        logger.info("partitions assigned", extra={"n": n})
    assert len(lines(out)) == 20


def test_after_a_quiet_window_the_next_line_goes_out_with_no_count(logged) -> None:  # type: ignore[no-untyped-def]
    logger, out, clock = logged
    logger.warning("loop failed", extra={"error": "OSError(111)"})
    clock.now += 60
    logger.warning("loop failed", extra={"error": "OSError(111)"})
    assert ["suppressed" in w for w in lines(out)] == [False, False]


def test_a_task_dump_logs_every_task_not_one_per_window(logged) -> None:  # type: ignore[no-untyped-def]
    logger, out, _ = logged
    for n in range(5):
        logger.warning("task dump", extra={"task": f"Task-{n}", "every_one": True})
    for n in (5, 6):  # without the flag, limited as before: the first of the kind only
        logger.warning("task dump", extra={"task": f"Task-{n}"})
    assert [line["task"] for line in lines(out)] == [f"Task-{n}" for n in range(6)]
