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
