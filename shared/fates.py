"""What became of each consumed record: ok, skipped (why) or dead-lettered (why).

A batch handler returns a :class:`BatchResult`: the messages to publish (the consumer runner's
unit of work sends them before it commits) and the records it did not apply, each with a
reason. A record the result does not name was applied: its fate is ok. The consumer runner adds
the fates it decides itself: skipped ``already_applied`` (a redelivered offset), dead-lettered
``unreadable`` (not a valid CloudEvent/message) and ``handler_failed`` (the handler kept failing
on it). After the batch commits, every fate is counted once, in
``touchline_consumer_records_total{group, fate, reason}`` (shared/metrics.py).

Reasons are metric labels: short snake_case names from a fixed set (``SKIP_REASONS`` for
skips), never free text. The ones in use:

- ``duplicate``: a message id the service processed before (a producer's retry, or a copy a
  replay republished -- see shared/unit_of_work.py), or the same id twice in one batch;
- ``unknown_type``: a message type on a subscribed topic that this service does not read
  (another service's message, or a newer version).

(Modelled on PostHog's ingestion step results: ok / drop(reason) / dlq(reason), each counted.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from .cloudevents import Encoded, Envelope
from .messages import Message
from .topics import Topic

__all__ = ["ALREADY_APPLIED", "DUPLICATE", "SKIP_REASONS", "UNKNOWN_TYPE", "BatchResult", "Fate", "Outgoing"]

Fate = Literal["ok", "skipped", "dead_lettered"]

# What a handler sends: models, or messages already serialised (health's scores, see Encoded).
Outgoing = list[tuple[Topic, Message | Encoded]]

ALREADY_APPLIED = "already_applied"  # the runner's: a redelivered offset
DUPLICATE = "duplicate"
UNKNOWN_TYPE = "unknown_type"
SKIP_REASONS = (ALREADY_APPLIED, DUPLICATE, UNKNOWN_TYPE)


@dataclass
class BatchResult:
    """A batch handler's answer: what to publish, and the records it did not apply and why."""

    outgoing: Outgoing = field(default_factory=list)
    skipped: list[tuple[Envelope, str]] = field(default_factory=list)
    dead_lettered: list[tuple[Envelope, str]] = field(default_factory=list)

    def emit(self, topic: Topic, message: Message | Encoded) -> None:
        self.outgoing.append((topic, message))

    def skip(self, env: Envelope, reason: str) -> None:
        """Consumed, deliberately not applied (its offset still advances)."""
        self.skipped.append((env, reason))

    def dead_letter(self, env: Envelope, reason: str) -> None:
        """Copied to ``<topic>.dlq`` with ``reason`` before the batch commits, then not applied."""
        self.dead_lettered.append((env, reason))

    def counts(self, handled: int) -> Counter[tuple[Fate, str]]:
        """(fate, reason) -> records, for ``handled`` records given to the handler."""
        counts: Counter[tuple[Fate, str]] = Counter()
        for _, reason in self.skipped:
            counts["skipped", reason] += 1
        for _, reason in self.dead_lettered:
            counts["dead_lettered", reason] += 1
        ok = handled - len(self.skipped) - len(self.dead_lettered)
        if ok:
            counts["ok", ""] = ok
        return counts
