"""The topic catalogue: the one place that names Touchline's topics.

Every topic is keyed by account id and carries CloudEvents in binary mode.
Consumers read their topics through :func:`name` so a prefix can isolate test runs.
Each service declares what it consumes and emits as a :class:`Topology` (its ``topology.py``);
tests/unit/shared/test_topology.py checks this catalogue's producer and consumers against them.
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


@dataclass(frozen=True)
class Topology:
    """What one service (or tool) reads from and writes to Kafka, declared once: its consumer
    subscribes to :attr:`subscribes`, and the catalogue above must name the same producer and
    consumers. Dead-letter topics are left out: any consumer may write them."""

    service: str  # as the catalogue's producer and consumers columns name it
    consumes: tuple[Topic, ...]
    emits: tuple[Topic, ...]

    @property
    def subscribes(self) -> list[Topic]:
        """The topics its consumer group subscribes to: CLOCK is read by the clock feed instead
        (shared.kafka.feed_clock), and only while the clock is simulated."""
        return [t for t in self.consumes if t is not CLOCK]


def name(topic: Topic, prefix: str = "") -> str:
    return f"{prefix}{topic.name}"


def dlq_name(topic_name: str) -> str:
    """Dead-letter topic of a (possibly prefixed) topic name."""
    return f"{topic_name}{DLQ_SUFFIX}"
