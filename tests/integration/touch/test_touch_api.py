"""Touch's API: playbooks, tier with reason, enrolments with history, CSM actions, validation, auth."""

from __future__ import annotations

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]

PLAYBOOK = """\
name: nudge
trigger: {signal: login}
variants:
  default:
    - id: hello
      send: {channel: email, template: onboarding.tips}
"""


async def known(touch: Touch, account: str) -> bool:
    return (await touch.client.get(f"/v1/accounts/{account}")).status_code == 200


async def test_every_route_needs_the_bearer_token(touch: Touch) -> None:
    for path in ("/v1/playbooks", "/v1/accounts/x/tier", "/v1/accounts/x/enrolments"):
        response = await touch.client.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, path
    response = await touch.client.post("/v1/enrolments/x/pause", headers={"Authorization": ""})
    assert response.status_code == 401


async def test_playbooks_are_listed_with_their_whole_definition(touch: Touch) -> None:
    playbooks = {p["name"]: p for p in (await touch.client.get("/v1/playbooks")).json()}
    assert set(playbooks) == {"onboarding", "renewal", "risk", "advocacy", "reengagement", "churn", "band_drop"}
    renewal = playbooks["renewal"]
    assert renewal["trigger"]["date"] == {"attribute": "renewal_date", "offset_seconds": -120 * 86400}
    assert set(playbooks["risk"]["variants"]) == {"tech", "low", "high"}
    assert renewal["tiers"] == {"high": "high", "low": "default", "tech": "default"}
    steps = {s["id"]: s for s in renewal["variants"]["default"]}
    assert (steps["reminder"]["channel"], steps["reminder"]["to"], steps["reminder"]["then"]) == (
        "email",
        "admins",
        "await_answer",
    )
    assert steps["await_answer"]["wait_until"] == {"attribute": "renewal_date", "offset_seconds": -90 * 86400}
    assert [b["answer"] for b in steps["await_answer"]["branches"]] == [
        {"survey": "renewal", "choice": ["unlikely", "undecided"]},
        {"survey": "renewal", "choice": "likely"},
    ]
    assert steps["await_answer"]["timeout"] == "second_reminder"
    assert steps["churn_risk"]["task"] == {
        "type": "renewal_churn_risk",
        "reason": "renewal survey not answered",
        "subject": "Renewal survey unanswered: treat as churn risk",
        "priority": "high",
        "due_seconds": 3 * 86400,
    }
    assert steps["offer"]["offer"]["low"]["undecided"]["emphasis"] is True
    reengagement = playbooks["reengagement"]["trigger"]
    assert (reengagement["every_seconds"], reengagement["max_runs"]) == (30 * 86400, 4)
    popup = {s["id"]: s for s in playbooks["advocacy"]["variants"]["default"]}["survey_popup"]
    assert (popup["channel"], popup["to"]) == ("in_app", "users")
    assert playbooks["churn"]["holdout"] == "never" and playbooks["risk"]["holdout"] is None  # None: the default


async def test_tier_is_stored_with_its_reason_and_re_evaluated_when_value_changes(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=5000, lifecycle_stage="adoption")
    await eventually(lambda: known(touch, account), what="profile")
    await touch.sim.set(t0 + DAY)
    await touch.feed.group(account, t0 + DAY, arr=80_000)
    await touch.sim.set(t0 + 2 * DAY)
    body = (await touch.client.get(f"/v1/accounts/{account}/tier")).json()
    assert (body["tier"], body["rule"], body["phase"], body["value"]) == ("high", "strategic", "adoption", 80_000)
    assert body["reason"] == "high touch by rule strategic: ARR 80,000 >= 50,000"
    assert [h["tier"] for h in body["history"]] == ["high", "tech"]
    missing = await touch.client.get(f"/v1/accounts/{new_account()}/tier")
    assert missing.status_code == 404 and "no tier yet" in missing.json()["detail"]


async def test_a_csm_pauses_resumes_and_cancels_a_run_and_the_history_shows_it(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=900, lifecycle_stage="adoption")
    await touch.feed.health(account, t0, usage_trend=-0.6)
    [notice] = await touch.commands.wait(account, 1, playbook="risk")
    run = notice.enrolment_id

    paused = await touch.client.post(f"/v1/enrolments/{run}/pause", json={"by": "mia@example.com"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    again = await touch.client.post(f"/v1/enrolments/{run}/pause")
    assert again.status_code == 409 and "paused" in again.json()["detail"]
    await touch.sim.set(t0 + 10 * DAY)  # the 3-day wait falls due while paused: nothing is sent
    resumed = await touch.client.post(f"/v1/enrolments/{run}/resume", json={"by": "mia@example.com"})
    assert resumed.json()["status"] == "active"
    [_, use_cases] = await touch.commands.wait(account, 2, playbook="risk")
    assert (what(use_cases), use_cases.issued_at) == ("email:risk.use_cases", t0 + 10 * DAY)

    cancelled = await touch.client.post(f"/v1/enrolments/{run}/cancel", json={"by": "mia@example.com"})
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["end_reason"] == "cancelled by mia@example.com"
    events = [(h["step"], h["event"]) for h in cancelled.json()["history"]]
    assert events[0] == ("enrolled", "enrolled")
    assert ("notice", "sent") in events and ("use_cases", "sent") in events
    assert [e for _, e in events if e in ("paused", "resumed", "cancelled")] == ["paused", "resumed", "cancelled"]
    await touch.sim.set(t0 + 30 * DAY)
    assert len(touch.commands.of(account, "risk")) == 2
    gone = await touch.client.post("/v1/enrolments/enr_nope/cancel")
    assert gone.status_code == 404


async def test_a_csm_enrols_an_account_by_hand_once_at_a_time(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=20_000, lifecycle_stage="adoption")
    await eventually(lambda: known(touch, account), what="profile")
    created = await touch.client.post(f"/v1/accounts/{account}/enrolments", json={"playbook": "risk", "by": "kei"})
    assert created.status_code == 201
    assert (created.json()["variant"], created.json()["manual"], created.json()["status"]) == ("low", True, "active")
    await touch.commands.wait(account, 2, playbook="risk")
    twice = await touch.client.post(f"/v1/accounts/{account}/enrolments", json={"playbook": "risk"})
    assert twice.status_code == 409 and "already running" in twice.json()["detail"]
    unknown = await touch.client.post(f"/v1/accounts/{account}/enrolments", json={"playbook": "nope"})
    [problem] = unknown.json()["detail"]
    assert unknown.status_code == 422 and problem["loc"] == ["body", "playbook"]
    assert "unknown playbook 'nope'" in problem["msg"]
    stranger = await touch.client.post(f"/v1/accounts/{new_account()}/enrolments", json={"playbook": "risk"})
    assert stranger.status_code == 404
    listed = (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json()
    assert [e["id"] for e in listed] == [created.json()["id"]]
    one = await touch.client.get(f"/v1/enrolments/{created.json()['id']}")
    assert [h["event"] for h in one.json()["history"]][:3] == ["enrolled", "sent", "task"]
    assert (await touch.client.get("/v1/enrolments/enr_nope")).status_code == 404


async def test_a_playbook_file_is_validated_over_http(touch: Touch) -> None:
    headers = {"Content-Type": "application/yaml"}
    good = await touch.client.post("/v1/playbooks/validate", content=PLAYBOOK, headers=headers)
    assert good.json()["valid"] and good.json()["playbook"]["name"] == "nudge"
    bad = await touch.client.post(
        "/v1/playbooks/validate", content=PLAYBOOK.replace("channel: email", "channel: pigeon"), headers=headers
    )
    assert not bad.json()["valid"]
    assert bad.json()["problems"][0].startswith("body:6: variants.default.0.channel")


async def test_a_sixth_customer_message_in_a_week_waits_until_the_first_leaves_the_window(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=900, lifecycle_stage="adoption")
    await eventually(lambda: known(touch, account), what="profile")
    for name in ("reengagement", "advocacy"):  # two messages each
        assert (
            await touch.client.post(f"/v1/accounts/{account}/enrolments", json={"playbook": name})
        ).status_code == 201
    await touch.sim.set(t0 + DAY)
    await touch.feed.health(account, t0 + DAY, usage_trend=-0.6)  # risk: the fifth
    await touch.sim.set(t0 + 2 * DAY)
    await touch.feed.track(account, t0 + 2 * DAY, "signed")  # onboarding welcome: the sixth
    await touch.sim.set(t0 + 8 * DAY)
    [welcome] = await touch.commands.wait(account, 1, playbook="onboarding")
    assert (what(welcome), welcome.issued_at) == ("email:onboarding.welcome", t0 + 7 * DAY)
    runs = (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json()
    [onboarding] = [r for r in runs if r["playbook"] == "onboarding"]
    assert onboarding["history"][1]["event"] == "deferred" and "message cap 5" in onboarding["history"][1]["detail"]


async def test_accounts_are_listed_by_tier_phase_owner_and_name(touch: Touch) -> None:
    big, small = touch.account(new_account()), touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(big, t0, arr=200_000, name="Hikari Foods", csm_owner="kei@example.com")
    await touch.feed.group(small, t0, arr=100, name="Tiny Co", lifecycle_stage="retention")
    await touch.sim.set(t0 + DAY)
    listed = (await touch.client.get("/v1/accounts", params={"tier": "high", "owner": "kei@example.com"})).json()
    assert big in [a["account_id"] for a in listed["accounts"]]
    assert small not in [a["account_id"] for a in listed["accounts"]]
    [row] = (await touch.client.get("/v1/accounts", params={"q": "tiny co", "phase": "retention"})).json()["accounts"]
    assert (row["account_id"], row["tier"], row["name"]) == (small, "tech", "Tiny Co")
    mine = (await touch.client.get("/v1/accounts", params={"owner": "Kei@Example.com"})).json()["accounts"]
    assert big in [a["account_id"] for a in mine], "owner matches whatever the case of the e-mail"
    literal = (await touch.client.get("/v1/accounts", params={"q": "tiny_co"})).json()["accounts"]
    assert small not in [a["account_id"] for a in literal], "_ in a search is not a wildcard"
    bad = await touch.client.get("/v1/accounts", params={"tier": "gold"})
    assert bad.status_code == 422 and "tier" in str(bad.json()["detail"])
