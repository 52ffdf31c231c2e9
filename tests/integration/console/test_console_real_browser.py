"""The console in a real browser (Debian's Chromium, Playwright) against the real ingest, health,
touch and notify services, filled by a small run of the product simulator (a few accounts over a
few simulated days, through ingest's Segment API) on a database and topic prefix of their own.

A CSM reads the account list and an account's real score, logs a call and sees the last-contact
measure fall to 0 once the pipeline has drained, opens a task and finds it in the inbox; a manager
reads both actions on the audit log with the CSM as the actor; a CSM gets 403 on the audit page.
The docs screenshots (docs/screenshots/console-*.png) are taken here when
TOUCHLINE_UPDATE_SCREENSHOTS=1; every run keeps them in .touchline/artifacts/console-real/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.console.testing import free_port, served
from touchline.console.views.formatting import fmt_num
from touchline.health.main import build_app as health_app
from touchline.health.settings import HealthSettings
from touchline.ingest.main import build_app as ingest_app
from touchline.ingest.settings import IngestSettings
from touchline.notify.main import build_app as notify_app
from touchline.notify.settings import NotifySettings
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import run_sync
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated
from touchline.sim.barrier import Barrier
from touchline.sim.client import Endpoints, StackClient
from touchline.sim.main import simulate
from touchline.sim.personas import Account
from touchline.sim.plan import DEFAULT_START, Config
from touchline.touch.main import build_app as touch_app
from touchline.touch.settings import TouchSettings

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("TOUCHLINE_ARTIFACTS", ROOT / ".touchline" / "artifacts")) / "console-real"
CHROMIUM = os.environ.get("TOUCHLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MANAGER, PASSWORD = "mana@touchline.example.com", "correct horse battery"
# Small on purpose (the default suite's budget): four accounts of the high-touch tier, so each has a
# CSM; three simulated days after two weeks of backfilled usage for the trend personas.
SIM = {"seed": 5, "accounts": 4, "days": 3, "history_days": 14}


@dataclass(frozen=True)
class RealStack:
    common: CommonSettings
    endpoints: Endpoints
    console: str
    accounts: list[Account]

    def settle(self) -> None:
        """Until the pipeline is drained: every consumer group caught up and nothing pending."""

        async def drain() -> None:
            async with StackClient(self.endpoints) as client:
                barrier = Barrier(self.common, client)
                await barrier.start()
                try:
                    await barrier.drain(timeout=120.0)
                finally:
                    await barrier.stop()

        run_sync(drain())


@pytest.fixture(scope="module")
def real(common: CommonSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    database_url, prefix = run_sync(isolated(common.kafka_bootstrap_servers, common.database_url, tag="b"))
    own = common.model_copy(update={"database_url": database_url, "topic_prefix": prefix})
    mail_dir = tmp_path_factory.mktemp("real-console") / "mail"
    sink = MailSink(mail_dir).start()
    notify_port = free_port()
    notify_url = f"http://127.0.0.1:{notify_port}"
    try:
        with ExitStack() as stack:
            urls = {
                "ingest": stack.enter_context(served(ingest_app(own, IngestSettings()))),
                "health": stack.enter_context(served(health_app(own, HealthSettings()))),
                "touch": stack.enter_context(served(touch_app(own, TouchSettings()))),
                "notify": stack.enter_context(
                    served(
                        notify_app(own, NotifySettings(smtp_port=sink.port, public_url=notify_url)), port=notify_port
                    )
                ),
            }
            endpoints = Endpoints(urls=urls, api_token=own.api_token.get_secret_value())
            config = Config(start=DEFAULT_START, id_prefix="real", **SIM)  # type: ignore[arg-type]
            outcome = run_sync(
                simulate(config, common=own, endpoints=endpoints, mail_dir=mail_dir, tiers=("high",), out=print)
            )
            users = UserStore({})
            users.put(
                User(email=MANAGER, name="Mana", password_hash=hash_password(PASSWORD), locale="ja", role="manager")
            )
            for owner in sorted({a.csm_owner for a in outcome.accounts}):
                users.put(
                    User(email=owner, name=owner.split("@")[0], password_hash=hash_password(PASSWORD), locale="ja")
                )
            settings = ConsoleSettings(health_url=urls["health"], touch_url=urls["touch"], notify_url=urls["notify"])
            console = stack.enter_context(served(build_app(own, settings, users=users)))
            yield RealStack(common=own, endpoints=endpoints, console=console, accounts=outcome.accounts)
    finally:
        sink.stop()
        run_sync(discard(database_url=database_url, bootstrap_servers=own.kafka_bootstrap_servers, topic_prefix=prefix))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ja-JP")
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if os.environ.get("TOUCHLINE_UPDATE_SCREENSHOTS") == "1":
        # The docs keep what the first screen shows, so the repository stays small.
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(docs / f"console-{name}.png"))


def sign_in(page: Page, base_url: str, email: str, *, screenshot: bool = False) -> None:
    page.goto(f"{base_url}/login")
    if screenshot:
        shot(page, "login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("nav")).to_be_visible()


def contact_cell(page: Page) -> str:
    """The value the account page shows for days since the last CSM contact."""
    row = page.locator("#why tbody tr", has_text="CSM との最終接触からの日数")
    expect(row).to_have_count(1)
    return row.locator("td").nth(2).inner_text().strip()


def test_a_csm_logs_a_call_and_opens_a_task_on_simulated_data_and_a_manager_audits_them(
    page: Page, real: RealStack
) -> None:
    account = real.accounts[0]
    csm = account.csm_owner
    sign_in(page, real.console, csm, screenshot=True)
    expect(page.locator("h1")).to_contain_text("担当アカウント")
    mine = [a.account_id for a in real.accounts if a.csm_owner == csm]
    rows = page.locator("#accounts tbody tr")
    expect(rows).to_have_count(len(mine))
    for account_id in mine:
        expect(page.locator(f'#accounts a[href="/accounts/{account_id}"]')).to_have_count(1)
    shot(page, "accounts")

    page.locator(f'#accounts a[href="/accounts/{account.account_id}"]').click()
    expect(page.locator("h1")).to_contain_text(account.name)
    scored = httpx.get(
        f"{real.endpoints.urls['health']}/v1/accounts/{account.account_id}",
        headers={"authorization": f"Bearer {real.endpoints.api_token}"},
    ).json()
    expect(page.locator("h1 .score")).to_have_text(fmt_num(scored["score"]))  # health's score for this account
    before = contact_cell(page)
    assert before not in ("", fmt_num(0, 1)), before  # the simulator never logs contact
    shot(page, "account")

    page.click("#activity-form summary")
    form = page.locator("#activity-form form")
    form.locator("select[name=kind]").select_option("call")
    form.locator("input[name=contact]").fill("Ken")
    form.locator("textarea[name=outcome]").fill("更新について電話で確認")
    form.locator("select[name=reached]").select_option("yes")
    form.locator("select[name=relationship]").select_option("4")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    real.settle()
    page.reload()
    assert contact_cell(page) == fmt_num(0, 1)
    expect(page.locator("#timeline")).to_contain_text("更新について電話で確認")

    page.click("#task-form summary")
    task_form = page.locator("#task-form form")
    task_form.locator("input[name=type]").fill("check_in")
    task_form.locator("input[name=reason]").fill("pre-renewal")
    task_form.locator("input[name=subject]").fill("更新前の確認")
    task_form.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    page.goto(f"{real.console}/tasks")
    expect(page.locator("li.task", has_text="更新前の確認")).to_have_count(1)
    shot(page, "tasks")

    page.context.clear_cookies()
    sign_in(page, real.console, MANAGER)
    page.click('nav a[href="/audit"]')
    page.fill(".filters input[name=account]", account.account_id)
    page.fill(".filters input[name=actor]", csm)
    page.click(".filters button[type=submit]")
    entries = page.locator("tr.audit-entry")
    expect(entries.locator(".action")).to_have_text(["notify.open_task", "notify.log_activity"])  # newest first
    expect(entries.filter(has_text="notify.log_activity")).to_contain_text("更新について電話で確認")
    expect(entries.filter(has_text="notify.open_task")).to_contain_text("更新前の確認")
    for i in range(entries.count()):
        expect(entries.nth(i).locator(".actor")).to_have_text(csm)
    shot(page, "audit")


def test_a_csm_gets_403_on_the_managers_audit_page(page: Page, real: RealStack) -> None:
    sign_in(page, real.console, real.accounts[0].csm_owner)
    expect(page.locator('nav a[href="/audit"]')).to_have_count(0)
    response = page.goto(f"{real.console}/audit")
    assert response is not None and response.status == 403
    expect(page.locator("[role=alert]")).to_contain_text("あなたのロールでは開けません")


def test_a_csm_reads_the_simulated_accounts_in_english(page: Page, real: RealStack) -> None:
    account = real.accounts[0]
    sign_in(page, real.console, account.csm_owner)
    page.click("#switch-language")
    expect(page.locator("h1")).to_contain_text("My accounts")
    expect(page.locator("#accounts thead")).to_contain_text("Renewal")
    shot(page, "accounts-en")
    page.locator(f'#accounts a[href="/accounts/{account.account_id}"]').click()
    expect(page.locator("h1")).to_contain_text(account.name)
    expect(page.locator("#why")).to_contain_text("Days since the last CSM contact")
    shot(page, "account-en")
