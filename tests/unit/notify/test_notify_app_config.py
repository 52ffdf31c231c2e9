import re

import httpx
import pytest
from pydantic import SecretStr

from touchline.notify.main import build_app, cli
from touchline.notify.settings import NotifySettings
from touchline.shared.settings import CommonSettings

PROD = {"env": "prod", "api_token": SecretStr("prod-token-0123456789")}
PROD_NOTIFY = {
    "link_secret": SecretStr("link-key-0123456789"),
    "inapp_secret": SecretStr("inapp-key-0123456789"),
    "webhook_secret": SecretStr("whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"),
    "product_name": "Acme Cloud",
    "mail_from": "Acme Cloud <cs@acme-cloud.jp>",
    "help_url": "https://help.acme-cloud.jp",
    "support_url": "https://acme-cloud.jp/support",
    "support_phone": "+81 3-1234-5678",
}


def test_prod_refuses_the_dev_default_secrets():
    with pytest.raises(ValueError, match="link_secret"):
        build_app(CommonSettings(**PROD), NotifySettings())


async def test_the_demo_page_that_signs_tokens_does_not_exist_in_prod():
    app = build_app(CommonSettings(**PROD), NotifySettings(**PROD_NOTIFY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/demo")).status_code == 404
        assert (await client.get("/widget.js")).status_code == 200


def test_preview_renders_a_template_in_japanese(capsys):
    assert cli(["preview", "renewal.reminder_survey", "--locale", "ja"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: ") and "更新" in out


def test_preview_of_an_unknown_template_fails_listing_the_known_ones(capsys):
    assert cli(["preview", "nope"]) == 2
    assert "onboarding.welcome" in capsys.readouterr().err


def test_an_unknown_subcommand_is_a_usage_error(capsys):
    assert cli(["frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err


def test_prod_refuses_any_origin_for_the_inapp_api():
    with pytest.raises(ValueError, match="inapp_allowed_origins: '\\*' is not allowed when env=prod"):
        build_app(CommonSettings(**PROD), NotifySettings(**PROD_NOTIFY, inapp_allowed_origins="*"))


def test_prod_accepts_listed_origins_or_none_at_all():
    build_app(CommonSettings(**PROD), NotifySettings(**PROD_NOTIFY, inapp_allowed_origins="https://*.example.com"))
    build_app(CommonSettings(**PROD), NotifySettings(**PROD_NOTIFY, inapp_allowed_origins=""))


async def test_dev_accepts_any_origin_and_answers_it():
    app = build_app(CommonSettings(), NotifySettings(inapp_allowed_origins="*"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/widget.js", headers={"Origin": "https://anywhere.test"})
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("product_name", "Touchline"),
        ("mail_from", "Touchline <cs@touchline.invalid>"),
        ("mail_from", "Acme <cs@example.com>"),
        ("help_url", "https://help.example.com"),
        ("support_url", "https://support.acme.test/"),
        ("support_phone", "+1 555 0100"),
    ],
)
def test_prod_refuses_placeholder_branding_naming_the_setting(field, value):
    with pytest.raises(ValueError, match=f"{field}: a dev default or example/test value is not allowed when env=prod"):
        build_app(CommonSettings(**PROD), NotifySettings(**{**PROD_NOTIFY, field: value}))


def test_dev_accepts_the_placeholder_branding():
    build_app(CommonSettings(), NotifySettings())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("help_url", "help.acme.com", "help_url: expected an absolute http(s) URL"),
        ("help_url", "ftp://help.acme.com", "help_url: expected an absolute http(s) URL"),
        ("support_url", "https://acme.com/support?x=1", "support_url: give a base URL without"),
        ("support_url", "https:// acme.com", "support_url: expected an absolute http(s) URL"),
        ("support_phone", "call us", "support_phone: expected a phone number"),
        ("product_name", "   ", "product_name: must not be empty"),
        ("product_name", "x" * 101, "product_name: at most 100 characters"),
        ("mail_from", "no address", "mail_from: expected an address"),
    ],
)
def test_bad_branding_settings_are_refused_naming_the_setting(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        NotifySettings(**{field: value})


def test_branding_settings_are_normalised_for_templates():
    settings = NotifySettings(help_url="https://help.acme.com/", product_name=" Acme\nCloud ", support_phone="")
    assert settings.brand.help_url == "https://help.acme.com"
    assert settings.brand.product == "Acme Cloud"
    assert settings.brand.support_phone == ""


def test_preview_uses_the_configured_product_and_help_links(capsys, monkeypatch):
    monkeypatch.setenv("TOUCHLINE_NOTIFY_PRODUCT_NAME", "Kumo CRM")
    monkeypatch.setenv("TOUCHLINE_NOTIFY_HELP_URL", "https://docs.kumo.jp")
    monkeypatch.setenv("TOUCHLINE_NOTIFY_SUPPORT_PHONE", "03-1111-2222")
    assert cli(["preview", "onboarding.training_invite"]) == 0
    out = capsys.readouterr().out
    assert "Kumo CRM" in out and "https://docs.kumo.jp/training" in out and "03-1111-2222" in out
