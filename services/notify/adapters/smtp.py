"""SMTP over aiosmtplib, keeping connections open between mails.

A connection is opened, greeted (EHLO, STARTTLS, AUTH) once and used for mail after mail: a
conversation per mail is then MAIL/RCPT/DATA, not also a TCP handshake, EHLO and QUIT. Up to as
many connections as mails are sent at once stay open; one idle for ``idle_seconds`` is closed
rather than reused (servers drop idle clients). A connection that failed in any way is closed,
never reused; a reused one found dropped by the server before it took the mail is replaced by a
fresh one once (the mail keeps its Message-ID, so even a copy the server did take is recognised).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from email.message import EmailMessage

import aiosmtplib

from ..ports import SendFailed

IDLE_SECONDS = 20.0


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        starttls: bool,
        tls: bool,
        user: str,
        password: str,
        timeout: float,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._options = {
            "hostname": host,
            "port": port,
            "use_tls": tls,
            "start_tls": starttls if not tls else False,
            "username": user or None,
            "password": password if user else None,
            "timeout": timeout,
        }
        self._idle_seconds = idle_seconds
        # Open connections nobody is sending on, with when each was last used (newest last).
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self.opened = 0  # connections opened so far (tests, debugging)

    async def send(self, message: EmailMessage) -> None:
        smtp = self._reusable()
        if smtp is not None:
            try:
                await self._send_on(smtp, message)
                return
            except SendFailed as exc:
                if not isinstance(exc.__cause__, aiosmtplib.SMTPServerDisconnected):
                    raise
                # The server had dropped the idle connection: try once on a fresh one.
        await self._send_on(await self._open(), message)

    def _reusable(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            smtp, used_at = self._idle.pop()
            if now - used_at < self._idle_seconds and smtp.is_connected:
                return smtp
            self._close_soon(smtp)
        return None

    async def _open(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"{exc.code} {exc.message}", code=exc.code) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"{exc.__class__.__name__}: {exc}", code=None) from exc
        self.opened += 1
        return smtp

    async def _send_on(self, smtp: aiosmtplib.SMTP, message: EmailMessage) -> None:
        try:
            await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._close_soon(smtp)
            codes = [r.code for r in exc.recipients]
            raise SendFailed(str(exc), code=max(codes) if codes else None) from exc
        except aiosmtplib.SMTPResponseException as exc:
            self._close_soon(smtp)
            raise SendFailed(f"{exc.code} {exc.message}", code=exc.code) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self._close_soon(smtp)
            raise SendFailed(f"{exc.__class__.__name__}: {exc}", code=None) from exc
        except BaseException:
            self._close_soon(smtp)
            raise
        self._idle.append((smtp, time.monotonic()))

    def _close_soon(self, smtp: aiosmtplib.SMTP) -> None:
        # QUIT politely in the background; a connection already broken is just dropped.
        if smtp.is_connected:
            task = asyncio.get_running_loop().create_task(_quit(smtp))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(smtp) for smtp, _ in idle), *self._closing)


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        await smtp.quit()
    if smtp.is_connected:
        smtp.close()
