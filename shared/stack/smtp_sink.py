"""An SMTP server that accepts every mail and keeps it: the local stack's outbox.

``python -m touchline.shared.stack.smtp_sink --port 2525 --dir <home>/mail`` writes each
mail to ``<dir>/<timestamp>-<n>.eml`` and appends a JSON line to ``<dir>/index.jsonl``.
:class:`MailSink` runs the same handler in-process for tests, and can be told to refuse
mail with a 4xx/5xx reply to exercise retry and dead-letter paths.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import signal
import threading
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from touchline.shared.stack.layout import free_port


class SinkHandler:
    """aiosmtpd handler: keeps messages in memory and, given a folder, on disk."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.messages: list[Message] = []
        self.failure: str | None = None
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failure is not None:
            return self.failure
        raw: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            if self.directory is not None:
                self._store(raw, message, envelope)
        return "250 OK: stored"

    def _store(self, raw: bytes, message: Message, envelope: Any) -> None:
        assert self.directory is not None
        # Microseconds, so a restarted sink (counter back at 1) never overwrites a file.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{next(self._counter)}.eml"
        path.write_bytes(raw)
        entry = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": message.get("Subject"),
            "message_id": message.get("Message-ID"),
            "file": path.name,
        }
        with open(self.directory / "index.jsonl", "a", encoding="utf-8") as index:
            index.write(json.dumps(entry) + "\n")


class MailSink:
    """In-process sink for tests::

    with MailSink() as sink:
        ... send to 127.0.0.1:sink.port ...
        assert sink.messages()[0]["Subject"] == "Welcome"
    """

    def __init__(self, directory: Path | None = None, *, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._handler = SinkHandler(directory)
        self._controller: Any = None

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self._handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Message]:
        with self._handler._lock:
            return list(self._handler.messages)

    def fail_with(self, code: int | None, text: str = "Simulated failure") -> None:
        """Answer every following DATA with ``code`` (e.g. 451, 550); None accepts again."""
        self._handler.failure = None if code is None else f"{code} {text}"

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


async def _serve(host: str, port: int, directory: Path) -> None:
    from aiosmtpd.smtp import SMTP

    handler = SinkHandler(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="touchline-sink", enable_SMTPUTF8=True), host, port
    )
    print(f"smtp sink listening on {host}:{port}, storing mail in {directory}", flush=True)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Store every mail received over SMTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=Path, required=True, help="where .eml files go")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(args.host, args.port, args.dir))


if __name__ == "__main__":
    main()
