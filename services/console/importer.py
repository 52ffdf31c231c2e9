"""The CSV import page's way to ingest: its import API, with the console's write key and the CSM as actor."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class ImportRefused(Exception):
    """Ingest did not produce an import report (file or mapping unusable, unreachable, 401...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Importer(Protocol):
    async def upload(self, kind: str, data: bytes, *, mapping: str, dry_run: bool, actor: str) -> dict[str, Any]:
        """Ingest's import report (rows, new/changed/unchanged, errors by line, changes)."""
        ...


class HttpImporter:
    def __init__(
        self,
        base_url: str,
        write_key: str,
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout, auth=(write_key, ""), transport=transport)

    async def upload(self, kind: str, data: bytes, *, mapping: str, dry_run: bool, actor: str) -> dict[str, Any]:
        try:
            response = await self._client.post(
                f"{self._url}/v1/import/{kind}",
                params={"mapping": mapping, "dry_run": "true" if dry_run else "false"},
                files={"file": ("upload.csv", data, "text/csv")},
                headers={"X-Touchline-Actor": actor},
            )
        except httpx.HTTPError as exc:
            raise ImportRefused(f"ingest unreachable: {exc.__class__.__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict) or "rows" not in body:
            message = body.get("message") if isinstance(body, dict) else None
            raise ImportRefused(f"HTTP {response.status_code}: {message or 'no import report'}")
        return body

    async def aclose(self) -> None:
        await self._client.aclose()
