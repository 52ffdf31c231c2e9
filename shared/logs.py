"""Structured JSON logs on stdout, one object per line; extras become fields.

Repeated warnings and errors are rate-limited: while a broker or database is away every loop
logs the same failure many times a second, which buries everything else. The first of a kind
goes out, then at most one per ``repeat_every_s``, carrying ``"suppressed": n`` -- how many of
that kind were dropped since the last one that went out.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
REPEAT_EVERY_S = 10.0


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def error_kind(record: logging.LogRecord) -> str:
    """The class of the error a record is about: its exception, else its ``error`` field's
    ``repr`` prefix (``KafkaConnectionError(...)`` -> ``KafkaConnectionError``), else ''."""
    if record.exc_info and record.exc_info[0] is not None:
        return record.exc_info[0].__name__
    error = vars(record).get("error")
    if error is None:
        return ""
    return str(error).split("(", 1)[0].split(":", 1)[0].strip()


class RepeatLimiter(logging.Filter):
    """Lets through the first record of a kind (logger, level, message template, error class),
    then at most one per ``every_s`` seconds with the count of those dropped in between.
    Records below ``min_level`` always pass, and so do records logged with
    ``extra={"every_one": True}``: one line per item of something asked for (a task dump)."""

    def __init__(
        self,
        every_s: float = REPEAT_EVERY_S,
        *,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1000,
    ) -> None:
        super().__init__()
        self._every_s = every_s
        self._min_level = min_level
        self._clock = clock
        self._max_kinds = max_kinds
        # kind -> [when one last went out, how many were dropped since]
        self._kinds: OrderedDict[tuple[str, int, str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._min_level or self._every_s <= 0 or vars(record).get("every_one"):
            return True
        kind = (record.name, record.levelno, str(record.msg), error_kind(record))
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen[0] < self._every_s:
                seen[1] += 1
                return False
            if seen is not None and seen[1]:
                record.suppressed = int(seen[1])
            self._kinds[kind] = [now, 0]
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
        return True


def configure(service: str, level: str = "INFO", *, repeat_every_s: float = REPEAT_EVERY_S) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RepeatLimiter(repeat_every_s))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
