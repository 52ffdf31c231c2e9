"""Roles and the audit log in a real browser (Debian's Chromium, Playwright) against the real
health, touch and notify services (each served on a port, on the session's Kafka and Postgres):
a CSM cannot reach a manager's page; a manager's override shows on the audit page with who,
before and after."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from console_scoped import ScopedServices, scoped_services_fixture  # noqa: F401 (the fixture)
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_console_services import seeded_account

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.clients import HttpBackend
from touchline.console.main import build_app
from touchline.console.testing import served

CHROMIUM = os.environ.get("TOUCHLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MANAGER, CSM, PASSWORD = "mana@example.com", "ken@example.com", "correct horse battery"


@pytest.fixture(scope="module")
def stack(scoped_services: ScopedServices) -> Iterator[tuple[str, str]]:
    """(console URL, a seeded account): the console calls the real services with its admin token."""
    settings = scoped_services.console_settings()

    async def seed() -> str:
        backend = HttpBackend.from_settings(scoped_services.common, settings)
        try:
            return await seeded_account(scoped_services.common, backend)
        finally:
            await backend.aclose()

    with ThreadPoolExecutor(1) as pool:  # a loop of its own: pytest-asyncio's may be running here
        account = pool.submit(asyncio.run, seed()).result()
    users = UserStore({})
    for email, role in ((MANAGER, "manager"), (CSM, "csm")):
        users.put(User(email=email, name=role, password_hash=hash_password(PASSWORD), locale="ja", role=role))
    with served(build_app(scoped_services.common, settings, users=users)) as url:
        yield url, account


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ja-JP")
    yield context.new_page()
    context.close()


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("nav")).to_be_visible()


def test_a_csm_cannot_reach_a_managers_page(page: Page, stack: tuple[str, str]) -> None:
    base_url, _ = stack
    sign_in(page, base_url, CSM)
    expect(page.locator('nav a[href="/audit"]')).to_have_count(0)
    response = page.goto(f"{base_url}/audit")
    assert response is not None and response.status == 403
    expect(page.locator("[role=alert]")).to_contain_text("あなたのロールでは開けません")


def test_a_managers_override_shows_on_the_audit_page_with_who_before_and_after(
    page: Page, stack: tuple[str, str]
) -> None:
    base_url, account = stack
    sign_in(page, base_url, MANAGER)
    page.goto(f"{base_url}/accounts/{account}")
    page.select_option("#override select[name=band]", "action_required")
    page.fill("#override input[name=reason]", "更新が危うい")
    page.click("#override button[type=submit]")
    expect(page.locator(".flash.ok")).to_be_visible()

    page.click('nav a[href="/audit"]')
    page.fill(".filters input[name=account]", account)
    page.click(".filters button[type=submit]")
    row = page.locator("tr.audit-entry", has_text="health.set_override")
    expect(row).to_have_count(1)
    expect(row.locator(".actor")).to_have_text(MANAGER)
    expect(row.locator(".before")).to_contain_text('"band": "caution"')
    expect(row.locator(".after")).to_contain_text('"band": "action_required"')
