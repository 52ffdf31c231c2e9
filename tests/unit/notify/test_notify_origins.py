"""Which origins may call the in-app API: parsing the setting, matching an Origin header."""

from __future__ import annotations

import pytest

from touchline.notify.domain.origins import parse_origins
from touchline.notify.settings import NotifySettings


def test_listed_origins_are_allowed_exactly():
    origins = parse_origins("https://app.example.com, http://localhost:5173")
    assert origins.allows("https://app.example.com") and origins.allows("http://localhost:5173")
    assert not origins.allows("https://app.example.com.evil.test")
    assert not origins.allows("http://app.example.com")  # another scheme is another origin
    assert not origins.allows("http://localhost:5174")


def test_a_star_label_allows_every_subdomain_but_not_the_bare_domain_nor_a_lookalike():
    origins = parse_origins("https://*.example.com")
    assert origins.allows("https://acme.example.com") and origins.allows("https://eu.acme.example.com")
    assert not origins.allows("https://example.com")
    assert not origins.allows("https://evilexample.com")
    assert not origins.allows("https://acme.example.com.evil.test")


def test_an_empty_setting_allows_no_other_origin():
    assert parse_origins("") == parse_origins(" , ")
    assert not parse_origins("").allows("https://app.example.com")


def test_a_lone_star_allows_any_origin():
    assert parse_origins("*").any and parse_origins("*").allows("https://anything.test")


def test_a_star_among_listed_origins_is_refused():
    with pytest.raises(ValueError, match="inapp_allowed_origins: '\\*'"):
        parse_origins("https://app.example.com,*")


@pytest.mark.parametrize(
    "entry",
    [
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/widget",
        "ftp://x.test",
        "https://x.test:99999",
    ],
)
def test_an_entry_that_is_not_an_origin_is_refused_naming_it(entry: str):
    with pytest.raises(ValueError, match=f"inapp_allowed_origins: '{entry}' is not an origin"):
        parse_origins(entry)


def test_the_settings_refuse_a_bad_origin_at_start_up_naming_the_field():
    with pytest.raises(ValueError, match="inapp_allowed_origins"):
        NotifySettings(inapp_allowed_origins="https://app.example.com/")


def test_the_dev_default_is_the_local_demo_page():
    assert NotifySettings().allowed_origins.allows("http://127.0.0.1:8004")
