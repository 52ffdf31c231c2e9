"""Webhooks out: Standard Webhooks signatures (webhook-id, -timestamp, -signature) and Slack payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

import httpx


def signature_headers(*, secret: str, msg_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """``v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`` keyed by the base64 part of ``whsec_...``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    seconds = str(int(timestamp.timestamp()))
    mac = hmac.new(key, f"{msg_id}.{seconds}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": seconds,
        "webhook-signature": f"v1,{base64.b64encode(mac).decode()}",
        "content-type": "application/json",
    }


class HttpxPoster:
    def __init__(self, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout)

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ValueError(f"bad endpoint URL {url!r}: {exc}") from exc
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()
