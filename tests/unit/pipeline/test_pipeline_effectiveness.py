"""Playbook effectiveness against a holdout, through all four services in memory (harness.py).

Hundreds of simulated tech-touch customers sign; a check-in playbook holds half of them out.
The customers act on what actually reaches them (the mail in the sink, opened by a person), and
decide whether to stay a month later. In the first story the check-in truly helps a customer who
read it; in the second it changes nothing. The report must show the lift in the first and none in
the second. The customers' choices are drawn from a fixed seed, so each story is the same every run.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import Pipeline  # type: ignore[import-not-found]
from segment_calls import group, identify, track  # type: ignore[import-not-found]

from touchline.touch.domain.effectiveness import Report, effectiveness
from touchline.touch.settings import TouchSettings

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
ACCOUNTS = 240
CHECKIN = """\
name: checkin
trigger: {signal: signed}
holdout: 0.5
variants:
  default:
    - id: welcome
      send: {channel: email, template: onboarding.welcome, to: admins}
    - id: await_open
      wait_for:
        duration: 3d
        on:
          - {signals: [opened], goto: end}
        timeout: call
    - id: call
      task: {type: onboarding_no_response, reason: welcome not opened, subject: Call them, due: 2d}
"""


async def story(tmp_path: Path, *, churn_if_read: float, churn_otherwise: float, seed: int) -> tuple[Report, int, int]:
    """Run the customers; return the report 40 days on, how many read the mail and how many churned."""
    (tmp_path / "checkin.yaml").write_text(CHECKIN)
    pipe = Pipeline(start=T0, touch_settings=TouchSettings(playbooks_dir=tmp_path))
    rng = random.Random(seed)
    calls = []
    for i in range(ACCOUNTS):
        calls += [
            group(f"u{i}", f"acc-{i}", at=T0, name=f"Customer {i}", arr=1200, lifecycle_stage="onboarding"),
            identify(f"u{i}", at=T0, email=f"admin{i}@customer.test", name=f"Admin {i}", role="admin"),
            track(f"u{i}", "Contract Signed", at=T0, message_id=f"signed-{i}"),
        ]
    await pipe.send(calls)
    await pipe.drain()
    await pipe.advance(T0 + DAY)
    readers: set[int] = set()
    for mail in pipe.mails():
        if str(mail["X-Touchline-Template"]) != "onboarding.welcome" or rng.random() >= 0.7:
            continue
        await pipe.open_mail(mail)  # a person opens it, a day after delivery
        readers.add(int(str(mail["To"]).split("admin")[1].split("@")[0]))
    await pipe.advance(T0 + 30 * DAY, step=10 * DAY)
    leaving = [i for i in range(ACCOUNTS) if rng.random() < (churn_if_read if i in readers else churn_otherwise)]
    staying = [i for i in range(ACCOUNTS) if i not in leaving]
    at = pipe.now
    await pipe.send(
        [track(f"u{i}", "Account Cancelled", at=at, message_id=f"cancel-{i}") for i in leaving]
        + [track(f"u{i}", "Account Renewed", at=at, message_id=f"renew-{i}") for i in staying]
    )
    await pipe.drain()
    await pipe.advance(T0 + 40 * DAY)
    inputs = await pipe.touch_repo.effectiveness_inputs("checkin")
    playbook = pipe.flows.config.playbooks["checkin"]
    return effectiveness(playbook, inputs, days=90, now=pipe.now, min_accounts=30), len(readers), len(leaving)


async def test_a_check_in_that_keeps_its_readers_shows_fewer_churned_than_the_holdout(tmp_path: Path) -> None:
    report, readers, _ = await story(tmp_path, churn_if_read=0.1, churn_otherwise=0.45, seed=16)
    [section] = report.variants
    assert section.enrolled + section.held_out == ACCOUNTS and 90 < section.held_out < 150
    churned = {r.outcome: r for r in section.rates}["churned"]
    renewed = {r.outcome: r for r in section.rates}["renewed"]
    assert churned.verdict == "better" and churned.interval is not None and churned.interval.high < 0
    assert renewed.verdict == "better" and renewed.difference is not None and renewed.difference > 0.15
    # the held out received nothing, so they churn at the base rate; the enrolled mix readers and not
    assert churned.held_out.rate is not None and 0.3 < churned.held_out.rate < 0.6
    # no run began in a usage decline, so there is no recovery to measure: said, not guessed
    recovered = {r.outcome: r for r in section.rates}["usage_recovered"]
    assert (recovered.enrolled.n, recovered.held_out.n, recovered.verdict) == (0, 0, "too_few")
    assert recovered.summary.startswith("too few accounts to tell")
    [welcome, call] = section.funnel
    assert (welcome.step, welcome.sent, welcome.opened) == ("welcome", section.enrolled, readers)
    assert (call.step, call.kind, call.sent) == ("call", "task", section.enrolled - readers)


async def test_a_check_in_that_changes_nothing_shows_no_difference_from_the_holdout(tmp_path: Path) -> None:
    report, readers, churned_total = await story(tmp_path, churn_if_read=0.3, churn_otherwise=0.3, seed=16)
    [section] = report.variants
    churned = {r.outcome: r for r in section.rates}["churned"]
    renewed = {r.outcome: r for r in section.rates}["renewed"]
    assert churned.enrolled.count + churned.held_out.count == churned_total
    assert churned.verdict == "no_difference" and renewed.verdict == "no_difference"
    assert churned.interval is not None and churned.interval.low < 0 < churned.interval.high
    assert section.funnel[0].opened == readers  # the mails were read all the same
