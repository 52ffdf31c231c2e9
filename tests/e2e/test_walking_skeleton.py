"""The README's quickstart as a test: one signed contract goes ingest -> health -> touch -> notify.

Each hop is observed where a person would look: health's API shows the score, touch's API the
enrolment, the SMTP sink the welcome mail; all through the real broker, database and processes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any

import httpx
from waiting import eventually

from touchline.sim.barrier import Barrier
from touchline.sim.client import StackClient

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


async def test_a_signed_contract_is_scored_enrolled_and_welcomed_by_mail(e2e_stack) -> None:  # type: ignore[no-untyped-def]
    account, user = f"acme-{uuid.uuid4().hex[:6]}", f"u-{uuid.uuid4().hex[:6]}"
    owner = f"owner-{account}@acme.example"
    async with StackClient(e2e_stack.endpoints) as client:
        barrier = Barrier(e2e_stack.common, client)
        await barrier.start()
        try:
            await barrier.set_clock(T0)
        finally:
            await barrier.stop()
        ingest = e2e_stack.endpoints.url("ingest")
        calls = [
            (
                "group",
                {
                    "userId": user,
                    "groupId": account,
                    "traits": {
                        "name": "Acme",
                        "plan": "pro",
                        "arr": 12000,
                        "csm_owner": "csm@example.com",
                        "lifecycle_stage": "onboarding",
                        "signed_at": T0.isoformat(),
                    },
                },
            ),
            ("identify", {"userId": user, "traits": {"email": owner, "name": "Aiko", "locale": "en", "role": "admin"}}),
            ("track", {"userId": user, "event": "Contract Signed", "context": {"groupId": account}}),
            ("track", {"userId": user, "event": "Signed In", "context": {"groupId": account}}),
        ]
        for path, body in calls:
            response = await client.http.post(f"{ingest}/v1/{path}", json=body, auth=("dev-write-key", ""))
            assert response.status_code == 200, response.text

        auth = {"authorization": f"Bearer {e2e_stack.endpoints.api_token}"}

        async def scored() -> dict[str, Any] | None:
            r = await client.http.get(f"{e2e_stack.endpoints.url('health')}/v1/accounts/{account}", headers=auth)
            return r.json() if r.status_code == 200 else None

        async def enrolled() -> list[dict[str, Any]]:
            r = await client.http.get(
                f"{e2e_stack.endpoints.url('touch')}/v1/accounts/{account}/enrolments", headers=auth
            )
            body = r.json() if r.status_code == 200 else []
            items = body.get("enrolments", body) if isinstance(body, dict) else body
            return [e for e in items if e.get("playbook") == "onboarding"]

        def welcome() -> list[str]:
            return [
                str(make_header(decode_header(m["Subject"])))
                for m in e2e_stack.sink.messages()
                if parseaddr(m["To"])[1] == owner
            ]

        async def welcomed() -> list[str]:
            return welcome()

        score = await eventually(scored, what="health to score the account")
        assert 0 <= score["score"] <= 100
        assert score["band"] in {"good", "healthy", "caution", "action_required"}
        assert await eventually(enrolled, what="touch to enrol the account in onboarding")
        subjects = await eventually(welcomed, what="the welcome mail in the SMTP sink")
        assert any("Acme" in s for s in subjects), subjects
        assert httpx.get(f"{e2e_stack.endpoints.url('notify')}/healthz").status_code == 200
