"""An SMTP server that accepts every mail and keeps it: the local stack's outbox.

``python -m touchline.shared.stack.smtp_sink --port 2525 --dir <home>/mail`` writes each
mail to ``<dir>/<timestamp>-<n>.eml`` and appends a JSON line to ``<dir>/index.jsonl``.
:class:`MailSink` runs the same handler in-process for tests, and can be told to refuse
mail with a 4xx/5xx reply to exercise retry and dead-letter paths.

Like a receiving MTA, it deduplicates on Message-ID: notify sends a mail whose fate a crash left
unknown again with the same Message-ID, and the sink accepts the copy (250) without storing it
again; ``duplicates`` (and the lines of ``<dir>/duplicates.jsonl``) count such copies.
``delay_seconds`` makes it a slow server: each mail is kept at once but answered that much later.
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

    def __init__(self, directory: Path | None = None, *, delay_seconds: float = 0.0) -> None:
        self.directory = directory
        self.messages: list[Message] = []
        self.duplicates: list[str] = []
        self.failure: str | None = None
        self.delay_seconds = delay_seconds
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._seen = self._stored_ids()

    def _stored_ids(self) -> set[str]:
        """Message-IDs already in the folder's index: a restarted sink still knows them."""
        index = self.directory / "index.jsonl" if self.directory is not None else None
        if index is None or not index.exists():
            return set()
        lines = (json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip())
        return {entry["message_id"] for entry in lines if entry.get("message_id")}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failure is not None:
            return self.failure
        reply = self._keep(envelope)
        if self.delay_seconds:
            # Kept first, answered late: a client that dies meanwhile cannot know the mail was taken.
            await asyncio.sleep(self.delay_seconds)
        return reply

    def _keep(self, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        message_id = message.get("Message-ID")
        with self._lock:
            if message_id and message_id in self._seen:
                self.duplicates.append(message_id)
                if self.directory is not None:
                    self._index({"message_id": message_id, "to": list(envelope.rcpt_tos)}, "duplicates.jsonl")
                return "250 OK: already have this Message-ID"
            if message_id:
                self._seen.add(message_id)
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
        self._index(entry, "index.jsonl")

    def _index(self, entry: dict[str, Any], name: str) -> None:
        assert self.directory is not None
        with open(self.directory / name, "a", encoding="utf-8") as index:
            index.write(json.dumps(entry) + "\n")


class MailSink:
    """In-process sink for tests::

    with MailSink() as sink:
        ... send to 127.0.0.1:sink.port ...
        assert sink.messages()[0]["Subject"] == "Welcome"
    """

    def __init__(self, directory: Path | None = None, *, port: int | None = None, delay_seconds: float = 0.0) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._handler = SinkHandler(directory, delay_seconds=delay_seconds)
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

    def duplicates(self) -> list[str]:
        """Message-IDs received again after the first copy was stored."""
        with self._handler._lock:
            return list(self._handler.duplicates)

    def fail_with(self, code: int | None, text: str = "Simulated failure") -> None:
        """Answer every following DATA with ``code`` (e.g. 451, 550); None accepts again."""
        self._handler.failure = None if code is None else f"{code} {text}"

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


async def _serve(host: str, port: int, directory: Path, delay_seconds: float = 0.0) -> None:
    from aiosmtpd.smtp import SMTP

    handler = SinkHandler(directory, delay_seconds=delay_seconds)
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
    parser.add_argument("--delay-seconds", type=float, default=0.0, help="answer each mail this much later")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(args.host, args.port, args.dir, args.delay_seconds))


if __name__ == "__main__":
    main()
