"""The topic catalogue: the one place that names Touchline's topics.

Every topic is keyed by account id and carries CloudEvents in binary mode.
Consumers read their topics through :func:`name` so a prefix can isolate test runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    consumers: tuple[str, ...]
    carries: str
    partitions: int = 6
    compacted: bool = False


# ingest -> health, touch, notify: normalised product events (track, identify, group, page, ...).
EVENTS = Topic("touchline.events", "ingest", ("health", "touch", "notify"), "ProductEvent")
# health -> touch: an account was scored (score, band, previous, contributions, reasons).
HEALTH = Topic("touchline.health", "health", ("touch",), "HealthScored")
# touch -> notify: send email / show in-app / open task, with a deterministic command id.
COMMANDS = Topic("touchline.commands", "touch", ("notify",), "Command")
# notify -> touch, health: what happened to a command (sent, opened, clicked, answered, task done...).
OUTCOMES = Topic("touchline.outcomes", "notify", ("touch", "health"), "Outcome")
# clock admin -> every service: simulated time. One partition so every reader sees one order.
CLOCK = Topic("touchline.clock", "clock admin", ("ingest", "health", "touch", "notify"), "ClockSet", 1, True)

ALL: tuple[Topic, ...] = (EVENTS, HEALTH, COMMANDS, OUTCOMES, CLOCK)
DLQ_SUFFIX = ".dlq"


def name(topic: Topic, prefix: str = "") -> str:
    return f"{prefix}{topic.name}"


def dlq_name(topic_name: str) -> str:
    """Dead-letter topic of a (possibly prefixed) topic name."""
    return f"{topic_name}{DLQ_SUFFIX}"
