"""SMTP over aiosmtplib: one connection per message (the volumes are small; no idle pool to go stale)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from ..ports import SendFailed


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

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(message, **self._options)  # type: ignore[arg-type]
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendFailed(str(exc), code=max(codes) if codes else None) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"{exc.code} {exc.message}", code=exc.code) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"{exc.__class__.__name__}: {exc}", code=None) from exc
