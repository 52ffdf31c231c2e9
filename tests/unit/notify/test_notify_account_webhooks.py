"""touch's webhook commands -> one queued delivery per live Standard Webhooks endpoint (not Slack)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from touchline.notify.account_webhooks import on_account_event
from touchline.touch.crm_events import band_changed

AT = datetime(2030, 1, 1, tzinfo=UTC)


class FakeEndpoints:
    def __init__(self) -> None:
        self.rows = [
            {"id": "ep-crm", "kind": "standard"},
            {"id": "ep-slack", "kind": "slack"},
            {"id": "ep-off", "kind": "standard"},
        ]
        self.disabled = {"ep-off"}
        self.queued: dict[str, dict[str, Any]] = {}

    async def live_endpoints(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["id"] in ids and r["id"] not in self.disabled]

    async def insert_webhook(
        self, *, delivery_id: str, endpoint_id: str, event_type: str, payload: Any, now: datetime
    ) -> None:
        self.queued.setdefault(delivery_id, {"endpoint": endpoint_id, "type": event_type, "payload": payload})


@dataclass
class Configured:
    endpoints: tuple[str, ...] = ("ep-crm", "ep-slack", "ep-off")


async def test_a_band_change_is_queued_for_each_live_standard_endpoint_once() -> None:
    repo = FakeEndpoints()
    command = band_changed(account_id="a1", cause="s1", band="good", previous="healthy", score=81.0, at=AT)
    for _ in range(2):
        await on_account_event(repo, Configured(), command)  # type: ignore[arg-type]
    assert [(q["endpoint"], q["type"]) for q in repo.queued.values()] == [("ep-crm", "account.band_changed")]
    assert next(iter(repo.queued.values()))["payload"]["data"]["previous_band"] == "healthy"


async def test_an_unknown_event_type_is_refused_naming_it() -> None:
    command = band_changed(account_id="a1", cause="s1", band="good", previous=None, score=81.0, at=AT)
    with pytest.raises(ValueError, match=r"account\.deleted"):
        await on_account_event(
            FakeEndpoints(), Configured(), command.model_copy(update={"template": "account.deleted"})
        )  # type: ignore[arg-type]
