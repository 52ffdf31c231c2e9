"""The console in a real browser (Debian's Chromium driven by Playwright), on the in-memory backend.

The fake backend is legitimate here: these tests are about what a CSM sees and can do in the
browser; the HTTP client to the services is tested against the real services elsewhere.
Screenshots of every page go to .touchline/artifacts/console/. The docs screenshots come from
test_console_real_browser.py (real services, simulated data), except the pages a short simulation
has no data for (feedback keywords, playbook effectiveness, score trust): those go to
docs/screenshots/ from here when TOUCHLINE_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.fake import InMemoryBackend
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.console.testing import served
from touchline.shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("TOUCHLINE_ARTIFACTS", ROOT / ".touchline" / "artifacts")) / "console"
CHROMIUM = os.environ.get("TOUCHLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
EMAIL, PASSWORD = "aiko@example.com", "correct horse battery"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Pages whose docs screenshot needs data a short simulator run does not produce (NPS comments,
# holdout outcomes, score trust over months); every other one is taken on real data.
DOCS_FROM_FAKE = frozenset({"feedback", "effectiveness", "scores"})


@pytest.fixture(scope="module")
def backend() -> InMemoryBackend:
    return demo_backend(now=NOW, accounts=120, owners=(EMAIL,))


@pytest.fixture(scope="module")
def base_url(backend: InMemoryBackend) -> Iterator[str]:
    users = UserStore({})
    users.put(User(email=EMAIL, name="Aiko Sato", password_hash=hash_password(PASSWORD), locale="ja", team="east"))
    users.put(User(email="ken@example.com", name="Ken Ito", password_hash=hash_password(PASSWORD), team="east"))
    app = build_app(CommonSettings(env="dev"), ConsoleSettings(page_size=25), backend=backend, users=users)
    with served(app) as url:
        yield url


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
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if name in DOCS_FROM_FAKE and os.environ.get("TOUCHLINE_UPDATE_SCREENSHOTS") == "1":
        # The docs keep what the first screen shows, so the repository stays small.
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(docs / f"console-{name}.png"))


def sign_in(page: Page, base_url: str, *, next_path: str = "/accounts") -> None:
    page.goto(f"{base_url}{next_path}")
    expect(page).to_have_url(f"{base_url}/login?next={next_path.replace('/', '%2F')}")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_csm_finds_an_action_required_account_reads_why_and_overrides_its_band(
    page: Page, base_url: str, backend: InMemoryBackend
) -> None:
    page.goto(f"{base_url}/login")
    shot(page, "login")
    sign_in(page, base_url)
    expect(page.locator("h1")).to_contain_text("担当アカウント")
    shot(page, "accounts")

    page.select_option("select[name=band]", "action_required")
    page.click(".filters button[type=submit]")
    first = page.locator("#accounts tbody tr").first
    expect(first).to_contain_text("要対応")
    first.locator("a").click()

    why = page.locator("#why")
    expect(why).to_contain_text("スコアの根拠")
    expect(why.locator("tbody tr")).to_have_count(7)
    shot(page, "account")

    account_id = page.url.rsplit("/", 1)[1]
    page.select_option("#override select[name=band]", "caution")
    page.fill("#override input[name=reason]", "顧客と電話済み。来月の更新は確定。")
    page.click("#override button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("上書きを保存しました")
    expect(page.locator("h1 .band")).to_contain_text("注意")
    assert backend.scores[account_id].override is not None
    assert backend.scores[account_id].override.by == EMAIL


def test_a_csm_completes_a_task_with_a_close_reason(page: Page, base_url: str, backend: InMemoryBackend) -> None:
    sign_in(page, base_url, next_path="/tasks")
    expect(page.locator("h1")).to_contain_text("タスク一覧")
    shot(page, "tasks")
    task = page.locator("li.task").first
    task_id = task.get_attribute("data-task")
    task.locator("summary").click()
    task.locator("form.complete select[name=close_reason]").select_option("resolved")
    task.locator("form.complete button").click()
    expect(page.locator(".flash.ok")).to_contain_text("タスクを完了しました")
    expect(page.locator(f'li.task[data-task="{task_id}"]')).to_have_count(0)
    assert backend.task_list[str(task_id)].status == "completed"


def test_a_csm_reads_feedback_keywords_in_japanese_and_drills_down(page: Page, base_url: str) -> None:
    sign_in(page, base_url, next_path="/feedback")
    keywords = page.locator("#keywords")
    expect(keywords).to_contain_text("レポート")
    shot(page, "feedback")
    keywords.get_by_role("link", name="レポート", exact=True).click()
    expect(page.locator("#comments h2")).to_contain_text("「レポート」を含むコメント")
    expect(page.locator("#comments li").first).to_contain_text("レポート")


def test_a_csm_reads_a_playbooks_effectiveness_against_its_holdout(page: Page, base_url: str) -> None:
    sign_in(page, base_url)
    page.get_by_role("link", name="効果測定").click()
    expect(page.locator("#variant-tech")).to_contain_text("件数が少なすぎて判断できません")  # onboarding: 8 vs 1
    page.get_by_role("link", name="risk", exact=True).click()
    section = page.locator("#variant-tech")
    expect(section).to_contain_text("実施 180件 · 対象外 20件")
    expect(section.locator("tr.verdict-better").first).to_contain_text("プレイブックありの方が良い")
    shot(page, "effectiveness")


def test_a_csm_reads_the_portfolios_retention_and_bands_per_csm(page: Page, base_url: str) -> None:
    sign_in(page, base_url)
    page.get_by_role("link", name="ポートフォリオ").click()
    total = page.locator("#retention tr.total")
    expect(total.locator("td.grr")).to_have_text("91.7 %")  # (1.2M - 40k - 60k) / 1.2M
    expect(total.locator("td.nrr")).to_have_text("99.2 %")
    expect(page.locator("#bands svg[role=img]")).to_have_count(2)
    page.get_by_role("link", name="CSM", exact=True).click()
    expect(page.locator("#retention tbody tr")).to_have_count(4)  # all, two CSMs, no CSM
    expect(page.locator("#bands-by-group")).to_contain_text("（CSM未設定）")
    shot(page, "portfolio")


def test_a_csm_switches_the_console_to_english(page: Page, base_url: str) -> None:
    sign_in(page, base_url)
    page.click("#switch-language")
    expect(page.locator("h1")).to_contain_text("My accounts")
    expect(page.locator("#accounts thead")).to_contain_text("Renewal")
    shot(page, "accounts-en")
    page.locator("#accounts tbody tr a").first.click()
    expect(page.locator("#why")).to_contain_text("Why this score")
    shot(page, "account-en")


def test_a_browser_without_a_session_is_sent_to_the_login_form(page: Page, base_url: str) -> None:
    for path in ("/accounts", "/accounts/acc-00001", "/tasks", "/feedback", "/scores", "/portfolio"):
        page.goto(f"{base_url}{path}")
        expect(page.locator("input[name=password]")).to_be_visible()


def test_a_csm_compares_hand_set_and_learned_weights_and_downloads_the_proposal(page: Page, base_url: str) -> None:
    sign_in(page, base_url)
    page.get_by_role("link", name="スコアの信頼性").click()
    expect(page.locator("h1")).to_contain_text("スコアは信頼できるか")
    expect(page.locator("#trust tbody tr")).to_have_count(3)
    expect(page.locator("#comparison-table")).to_contain_text("0.800")  # learned AUC at 30 days
    shot(page, "scores")
    with page.expect_download() as download:
        page.click("#download-proposal")
    assert download.value.suggested_filename == "default-proposal.yaml"
    page.get_by_role("link", name="enterprise", exact=True).click()
    expect(page.locator("#refused")).to_contain_text("too few outcomes to fit")
    expect(page.locator("#download-proposal")).to_have_count(0)
