"""Every template names the configured product and links to its configured help and support pages."""

import re

import pytest

from touchline.notify.compose import template_context
from touchline.notify.domain.branding import Brand, is_placeholder_host
from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.templates import CONTRACT_TEMPLATES, TASK_TEMPLATE, Catalog, Links

BRAND = Brand("Kumo CRM", "https://docs.kumo.jp", "https://kumo.jp/support", "03-1111-2222")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


def test_no_template_hard_codes_the_product_or_a_placeholder_host():
    for path in sorted((TEMPLATES_DIR / "email").glob("*")) + sorted((TEMPLATES_DIR / "inapp").glob("*")):
        body = path.read_text(encoding="utf-8")
        assert "Touchline" not in body, path.name
        assert "example.com" not in body, path.name


@pytest.mark.parametrize("name", [*CONTRACT_TEMPLATES, TASK_TEMPLATE])
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_mail_links_only_to_the_configured_pages_and_names_the_product(catalog, name, locale):
    linked: list[str] = []

    def link(url: str) -> str:
        linked.append(url)
        return "L"

    context = {
        **template_context(account=None, account_id="acc", contact=None, variables={"features": ["a"]}, brand=BRAND),
        "task": {"subject": "s", "url": "https://console.kumo.jp/t/1"},
    }
    mail = catalog.render_email(
        name, locale=locale, context=context, links=Links(link=link, answer=lambda **a: "A", unsubscribe_url="U")
    )
    urls = linked + re.findall(r"https?://[^\s\"'<]+", mail.html + mail.text)
    assert all(not is_placeholder_host(u) for u in urls), urls
    if name != TASK_TEMPLATE:
        assert "Kumo CRM" in mail.html + mail.subject and "Kumo CRM" in mail.text
    for url in linked:
        assert url.startswith((BRAND.help_url + "/", BRAND.support_url, "https://console.kumo.jp")), url


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_the_training_invitation_gives_the_support_link_and_phone(catalog, locale):
    context = template_context(account=None, account_id="acc", contact=None, variables={}, brand=BRAND)
    linked: list[str] = []

    def link(url: str) -> str:
        linked.append(url)
        return url

    mail = catalog.render_email(
        "onboarding.training_invite",
        locale=locale,
        context=context,
        links=Links(link=link, answer=lambda **a: "A", unsubscribe_url=None),
    )
    assert BRAND.support_url in linked and "03-1111-2222" in mail.text and "03-1111-2222" in mail.html


def test_in_app_call_to_action_links_point_under_the_help_url(catalog):
    context = template_context(account=None, account_id="acc", contact=None, variables={}, brand=BRAND)
    for name in CONTRACT_TEMPLATES:
        rendered = catalog.render_inapp(name, locale="ja", context=context)
        if rendered.cta_url:
            assert rendered.cta_url.startswith(BRAND.help_url + "/"), name


def test_a_commands_variables_cannot_rename_the_product():
    context = template_context(account=None, account_id="a", contact=None, variables={"product": "Evil"}, brand=BRAND)
    assert context["product"] == "Kumo CRM"


def test_placeholder_hosts_are_recognised():
    assert is_placeholder_host("https://help.example.com/x")
    assert is_placeholder_host("cs@touchline.invalid")
    assert is_placeholder_host("http://localhost:8004")
    assert not is_placeholder_host("https://docs.kumo.jp")
    assert not is_placeholder_host("Kumo <cs@kumo.jp>")
