"""A Kafka broker of the test's own (temp home, free ports): one it may kill -9 and start again.

Never the shared broker: other sessions depend on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from touchline.shared.stack import kafka, services
from touchline.shared.stack.layout import Layout, free_port, port_open


class OwnKafka:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = ""

    def start(self) -> str:
        self.bootstrap = kafka.start_kafka(self.home, port=self.port, controller_port=self.controller_port)
        return self.bootstrap

    def kill(self) -> None:
        """kill -9 the broker: no clean shutdown, logs recovered on the next start."""
        layout = Layout.at(self.home)
        pid = services.pid_of(layout, kafka.NAME)
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (services.alive(pid) or port_open(self.port) or port_open(self.controller_port)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)

    def stop(self) -> None:
        kafka.stop_kafka(self.home)


@contextlib.contextmanager
def own_kafka() -> Iterator[OwnKafka]:
    home = Path(tempfile.mkdtemp(prefix="touchline-own-kafka-"))
    broker = OwnKafka(home)
    broker.start()
    try:
        yield broker
    finally:
        with contextlib.suppress(Exception):
            broker.kill()
        shutil.rmtree(home, ignore_errors=True)
