"""The widget in a real browser (Debian's Chromium driven by Playwright) against the running notify:
a score given without its "why?" is partial, and the widget then asks the follow-up that completes it."""

from __future__ import annotations

import os
import uuid

from notify_harness import Notify, eventually, inapp_command, served
from playwright.async_api import async_playwright, expect
from test_notify_inapp_api import _messages

from touchline.shared import topics

CHROMIUM = os.environ.get("TOUCHLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def answers(notify: Notify, account: str, n: int):
    async def probe():
        found = notify.outcomes_of(account, "inapp.answered")
        return found if len(found) == n else None

    return probe


async def test_the_widget_asks_why_after_a_score_and_completes_the_answer(notify: Notify):
    account, user = str(uuid.uuid4()), f"user-{uuid.uuid4().hex[:8]}"
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], "advocacy.nps_survey"))
    await eventually(lambda: _messages(notify, user), what="the survey stored")
    async with served(notify.app) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/demo?user={user}")
            box = page.locator("[data-touchline-message]")
            await expect(box).to_be_visible()
            await box.locator('button[data-value="8"]').click()  # a score the survey offers
            await expect(box.locator("textarea[name=why]")).to_be_visible()
            await box.locator("textarea[name=why]").fill("reports are slow")
            await box.locator("button[data-action=send-why]").click()
            await expect(box).to_have_count(0)
            # The page stays open until notify has both answers (the widget posts the second after the first).
            partial, complete = await eventually(
                answers(notify, account, 2), what="the partial and the complete answer"
            )
        finally:
            await browser.close()
    assert partial.answer == {"survey": "nps", "score": 8, "partial": True}
    assert complete.answer == {"survey": "nps", "score": 8, "comment": "reports are slow"}
    assert notify.outcomes_of(account, "inapp.dismissed") == []


async def test_a_comment_sent_alone_keeps_the_survey_until_the_score_completes_it(notify: Notify):
    account, user = str(uuid.uuid4()), f"user-{uuid.uuid4().hex[:8]}"
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], "advocacy.nps_survey"))
    await eventually(lambda: _messages(notify, user), what="the survey stored")
    async with served(notify.app) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/demo?user={user}")
            box = page.locator("[data-touchline-message]")
            await box.locator("textarea").first.fill("the reports are slow")
            await box.locator("button[data-action=send-comment]").click()
            await expect(box).to_have_count(0)
            await eventually(answers(notify, account, 1), what="the partial answer")
            await page.reload()  # the next page of the product: the survey is shown again for its score
            await expect(box).to_be_visible()
            await box.locator('button[data-value="3"]').click()
            # The widget does not know the comment was given on another page, so it asks "why?" again;
            # closing it leaves the answer notify completed from the stored comment.
            await box.locator("button[aria-label=close]").click()
            await expect(box).to_have_count(0)
            partial, complete = await eventually(
                answers(notify, account, 2), what="the partial and the complete answer"
            )
        finally:
            await browser.close()
    assert partial.answer == {"survey": "nps", "comment": "the reports are slow", "partial": True}
    assert complete.answer == {"survey": "nps", "score": 3, "comment": "the reports are slow"}
    assert notify.outcomes_of(account, "inapp.dismissed") == []
