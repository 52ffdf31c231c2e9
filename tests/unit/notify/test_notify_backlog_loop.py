"""The backlog loop survives a database that is away: it logs, keeps the last values and goes on."""

import asyncio

from prometheus_client import CollectorRegistry, Gauge

from touchline.notify import backlog


class AwayEngine:
    """An engine whose every connection fails; the second attempt stops the loop."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.attempts = 0

    def connect(self):
        self.attempts += 1
        if self.attempts >= 2:
            self.stop.set()
        raise ConnectionRefusedError("database away")


async def test_a_failed_measurement_keeps_the_last_values_and_is_retried():
    # A gauge of its own: other notify apps of this test process (the fuzz stack's thread) measure
    # the process-wide one at any moment.
    gauge = Gauge("backlog_under_test", "test", ["queue"], registry=CollectorRegistry())
    gauge.labels(queue="outbox_unpublished").set(7)
    stop = asyncio.Event()
    engine = AwayEngine(stop)
    await backlog.run(engine, every=0.001, stop=stop, gauge=gauge)  # type: ignore[arg-type]
    assert engine.attempts == 2
    assert gauge.labels(queue="outbox_unpublished")._value.get() == 7
