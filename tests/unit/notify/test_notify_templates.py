import shutil
from pathlib import Path

import pytest

from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.templates import (
    CONTRACT_TEMPLATES,
    SAMPLE_CONTEXT,
    TASK_TEMPLATE,
    Catalog,
    Links,
    TemplateError,
    sample_links,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


@pytest.mark.parametrize("name", [*CONTRACT_TEMPLATES, TASK_TEMPLATE])
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_shipped_template_renders_subject_html_and_text(catalog, name, locale):
    mail = catalog.render_email(name, locale=locale, context=SAMPLE_CONTEXT, links=sample_links("http://n"))
    assert mail.subject and "\n" not in mail.subject
    assert mail.html.startswith("<!doctype html>") and f'lang="{locale}"' in mail.html
    assert mail.text.strip()


def test_japanese_and_english_mails_differ_in_language(catalog):
    links = sample_links("http://n")
    ja = catalog.render_email("onboarding.welcome", locale="ja", context=SAMPLE_CONTEXT, links=links)
    en = catalog.render_email("onboarding.welcome", locale="en", context=SAMPLE_CONTEXT, links=links)
    assert "ようこそ" in ja.subject and "Welcome" in en.subject


def test_html_autoescapes_variables_but_subject_and_text_keep_them_plain(catalog):
    context = {**SAMPLE_CONTEXT, "contact": {"name": "<b>Bob</b> & Co"}, "account": {"name": "<script>x</script>"}}
    mail = catalog.render_email("onboarding.welcome", locale="en", context=context, links=sample_links("http://n"))
    assert "<script>x</script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "&lt;b&gt;Bob&lt;/b&gt; &amp; Co" in mail.html
    assert mail.subject.endswith("<script>x</script>")
    assert "<b>Bob</b> & Co" in mail.text


def test_links_in_a_mail_come_from_the_link_function(catalog):
    links = Links(link=lambda url: "SIGNED:" + url, answer=lambda **a: "ANSWER", unsubscribe_url="UNSUB")
    mail = catalog.render_email("onboarding.training_invite", locale="en", context=SAMPLE_CONTEXT, links=links)
    assert "SIGNED:https://" in mail.html and "UNSUB" in mail.html and "UNSUB" in mail.text


def test_survey_mails_offer_one_click_answers(catalog):
    asked: list[dict] = []

    def answer(**values):
        asked.append(values)
        return "A"

    links = Links(link=lambda u: u, answer=answer, unsubscribe_url=None)
    catalog.render_email("renewal.reminder_survey", locale="ja", context=SAMPLE_CONTEXT, links=links)
    assert {a["choice"] for a in asked if a.get("survey") == "renewal"} == {"likely", "undecided", "unlikely"}


def test_every_contract_template_has_an_in_app_definition_in_both_locales(catalog):
    for name in CONTRACT_TEMPLATES:
        for locale in ("ja", "en"):
            assert catalog.render_inapp(name, locale=locale, context=SAMPLE_CONTEXT).title


def test_in_app_nps_survey_offers_scores_0_to_10(catalog):
    rendered = catalog.render_inapp("advocacy.nps_survey", locale="en", context=SAMPLE_CONTEXT)
    assert rendered.kind == "survey" and rendered.survey == "nps"
    assert [c["value"] for c in rendered.choices] == list(range(11))


def test_unknown_template_is_a_key_error(catalog):
    with pytest.raises(KeyError):
        catalog.render_email("nope", locale="en", context={}, links=sample_links("http://n"))


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, target)
    return target


def test_a_missing_locale_file_is_refused_at_load_naming_the_file(tmp_path):
    folder = _copy(tmp_path)
    (folder / "email" / "renewal.offer.ja.txt").unlink()
    with pytest.raises(TemplateError, match=r"renewal\.offer\.ja\.txt"):
        Catalog.load(folder)


def test_an_invalid_in_app_definition_is_refused_naming_file_and_field(tmp_path):
    folder = _copy(tmp_path)
    (folder / "inapp" / "renewal.offer.yaml").write_text("kind: banner\nja: {title: x}\nen: {title: y}\n")
    with pytest.raises(TemplateError, match=r"renewal\.offer\.yaml.*kind"):
        Catalog.load(folder)


def test_a_template_syntax_error_is_refused_with_its_line(tmp_path):
    folder = _copy(tmp_path)
    (folder / "email" / "renewal.offer.en.html").write_text("{% block subject %}x{% endblock %}\n{{ broken\n")
    with pytest.raises(TemplateError, match=r"renewal\.offer\.en\.html:\d"):
        Catalog.load(folder)
