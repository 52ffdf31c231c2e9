"""The effectiveness report on the real stack: held-out accounts recorded and sent nothing, the
report's counts and funnel from what touch consumed, its errors, and the CLI on the same database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from touch_harness import Touch, touch_service  # type: ignore[import-not-found]
from touch_support import new_account  # type: ignore[import-not-found]

from touchline.shared.settings import CommonSettings
from touchline.touch.main import cli
from touchline.touch.settings import TouchSettings

HELLO = """\
name: hello
trigger: {signal: login}
holdout: 0.5
variants:
  default:
    - id: hi
      send: {channel: email, template: onboarding.tips}
"""


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("playbooks")
    (folder / "hello.yaml").write_text(HELLO)
    return folder


@pytest.fixture(scope="module")
async def touch(common: CommonSettings, playbooks: Path) -> AsyncIterator[Touch]:
    folder = playbooks
    async with touch_service(common, TouchSettings(timer_poll_seconds=0.2, playbooks_dir=folder)) as t:
        yield t


async def test_held_out_accounts_are_recorded_and_the_report_counts_both_groups(
    touch: Touch,
    common: CommonSettings,
    playbooks: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t0 = await touch.sim.fresh_start()
    accounts = [touch.account(new_account()) for _ in range(16)]
    for account in accounts:
        await touch.feed.group(account, t0, arr=1200, lifecycle_stage="adoption")
        await touch.feed.track(account, t0, "login")
    await touch.sim.set(t0 + timedelta(minutes=30))
    runs = {a: (await touch.client.get(f"/v1/accounts/{a}/enrolments")).json() for a in accounts}
    held = [a for a, r in runs.items() if [e["status"] for e in r] == ["held_out"]]
    enrolled = [a for a, r in runs.items() if [e["status"] for e in r] == ["completed"]]
    assert held and enrolled and len(held) + len(enrolled) == 16
    for a in held:
        [run] = runs[a]
        assert [h["event"] for h in run["history"]] == ["held_out"]
        assert run["end_reason"].startswith("held out (50% holdout") and touch.commands.of(a) == []
    sent = {a: (await touch.commands.wait(a, 1))[0] for a in enrolled}
    # two admins read the tips; a third mail is only prefetched by a scanner (no person)
    for a in enrolled[:2]:
        await touch.feed.outcome(sent[a], "email.opened", t0 + timedelta(hours=1))
    if len(enrolled) > 2:
        await touch.feed.outcome(sent[enrolled[2]], "email.opened", t0 + timedelta(hours=1), machine=True)
    leaving = [*enrolled[:1], *held[:3]]
    for a in leaving:
        await touch.feed.track(a, t0 + timedelta(hours=2), "cancelled")
    await touch.sim.set(t0 + timedelta(hours=3))

    body = (await touch.client.get("/v1/playbooks/hello/effectiveness", params={"days": 30})).json()
    assert (body["playbook"], body["days"], body["min_accounts"], body["not_compared"]) == ("hello", 30, 20, 0)
    [section] = body["variants"]
    assert (section["variant"], section["holdout"], section["enrolled"], section["held_out"]) == (
        "default",
        0.5,
        len(enrolled),
        len(held),
    )
    churned = {r["outcome"]: r for r in section["rates"]}["churned"]
    assert (churned["enrolled"]["count"], churned["enrolled"]["n"]) == (1, len(enrolled))
    assert (churned["held_out"]["count"], churned["held_out"]["n"]) == (min(3, len(held)), len(held))
    assert churned["verdict"] == "too_few" and churned["summary"].startswith("too few accounts to tell")
    assert churned["enrolled"]["interval"]["low"] >= 0  # the Wilson interval is still shown
    assert section["funnel"] == [
        {"step": "hi", "kind": "send", "sent": len(enrolled), "opened": 2, "clicked": 0, "answered": 0, "completed": 0}
    ]

    # the CLI reads the same database and says the same
    monkeypatch.setenv("TOUCHLINE_DATABASE_URL", common.database_url)
    monkeypatch.setenv("TOUCHLINE_TOUCH_PLAYBOOKS_DIR", str(playbooks))
    # (in a thread: the CLI runs its own event loop, as from a shell)
    assert await asyncio.to_thread(cli, ["effectiveness", "hello", "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert f"variant default (holdout 0.5): {len(enrolled)} enrolled, {len(held)} held out" in out
    assert "too few accounts to tell" in out
    assert await asyncio.to_thread(cli, ["effectiveness", "nope"]) == 2
    assert "unknown playbook 'nope' (known: hello)" in capsys.readouterr().err


async def test_an_unknown_playbook_is_a_404_naming_it_and_bad_days_a_422(touch: Touch) -> None:
    missing = await touch.client.get("/v1/playbooks/nope/effectiveness")
    assert missing.status_code == 404 and missing.json()["detail"] == "playbook 'nope': unknown (known: hello)"
    bad = await touch.client.get("/v1/playbooks/hello/effectiveness", params={"days": 0})
    assert bad.status_code == 422 and "days" in str(bad.json())
    denied = await touch.client.get("/v1/playbooks/hello/effectiveness", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401
