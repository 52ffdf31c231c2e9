"""Webhook endpoints from configuration, their identity, and what becomes of an orphaned endpoint's queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from touchline.notify.domain.endpoints import (
    Endpoint,
    Seen,
    Settlement,
    configured_endpoints,
    endpoint_id,
    orphaned,
    settle_orphans,
)
from touchline.notify.settings import NotifySettings

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
GRACE = timedelta(minutes=5)
SECRET = "whsec_a2V5LW9uZQ=="
OTHER_SECRET = "whsec_a2V5LXR3bw=="


def test_the_same_url_and_secret_is_the_same_endpoint_in_every_instance():
    assert endpoint_id("https://crm.test/hook", secret=SECRET) == endpoint_id("https://crm.test/hook", secret=SECRET)
    assert endpoint_id("https://crm.test/hook", secret=SECRET) != endpoint_id("https://crm.test/other", secret=SECRET)


def test_the_same_url_with_another_secret_is_another_endpoint():
    assert endpoint_id("https://crm.test/hook", secret=SECRET) != endpoint_id(
        "https://crm.test/hook", secret=OTHER_SECRET
    )


def test_the_same_url_as_slack_and_as_signed_endpoint_are_different_endpoints():
    assert endpoint_id("https://x.test/h", kind="slack") != endpoint_id("https://x.test/h")


def test_configured_endpoints_are_the_webhook_urls_once_each_with_the_secret_then_slack():
    endpoints = configured_endpoints(
        webhook_urls=["https://a.test/h", "https://b.test/h", "https://a.test/h"],
        webhook_secret=SECRET,
        slack_webhook_url="https://hooks.slack.test/x",
    )
    assert [(e.url, e.kind, e.secret) for e in endpoints] == [
        ("https://a.test/h", "standard", SECRET),
        ("https://b.test/h", "standard", SECRET),
        ("https://hooks.slack.test/x", "slack", None),
    ]
    assert endpoints[0] == Endpoint(
        endpoint_id("https://a.test/h", secret=SECRET), "https://a.test/h", "standard", SECRET
    )


def test_no_urls_and_no_slack_configure_no_endpoint():
    assert configured_endpoints(webhook_urls=[], webhook_secret=SECRET, slack_webhook_url="") == []


def test_a_url_named_both_as_signed_and_as_slack_endpoint_is_refused_naming_both_entries():
    with pytest.raises(ValueError, match=r"webhook_urls\[1\] and slack_webhook_url name the same URL"):
        configured_endpoints(
            webhook_urls=["https://a.test/h", "https://x.test/h"],
            webhook_secret=SECRET,
            slack_webhook_url="https://x.test/h",
        )


def test_the_settings_refuse_that_configuration_at_start_up():
    with pytest.raises(ValueError, match=r"webhook_urls\[0\] and slack_webhook_url"):
        NotifySettings(webhook_urls=["https://x.test/h"], slack_webhook_url="https://x.test/h")


def test_the_settings_sign_with_the_dev_default_secret_without_its_dev_marker():
    default = NotifySettings().webhook_secret.get_secret_value()
    (endpoint,) = NotifySettings(webhook_urls=["https://a.test/h"]).endpoints()
    assert endpoint.secret == default.removeprefix("dev-") and endpoint.secret.startswith("whsec_")
    (explicit,) = NotifySettings(webhook_urls=["https://a.test/h"], webhook_secret=SecretStr(SECRET)).endpoints()
    assert explicit.secret == SECRET and explicit.id != endpoint.id


def _seen(id_: str, url: str, *, ago: timedelta | None, kind: str = "standard") -> Seen:
    return Seen(id_, url, kind, None if ago is None else NOW - ago)


def test_an_orphaned_endpoints_queue_goes_to_a_live_endpoint_of_the_same_url_and_kind():
    settlement = settle_orphans(
        [
            _seen("old-secret", "https://a.test/h", ago=timedelta(hours=1)),
            _seen("new-secret", "https://a.test/h", ago=timedelta(seconds=5)),
            _seen("slack", "https://a.test/h", ago=timedelta(seconds=5), kind="slack"),
        ],
        now=NOW,
        after=GRACE,
    )
    assert settlement == Settlement(moves=[("old-secret", "new-secret")], drops=[])


def test_the_queue_goes_to_the_live_endpoint_stamped_last():
    settlement = settle_orphans(
        [
            _seen("gone", "https://a.test/h", ago=None),
            _seen("earlier", "https://a.test/h", ago=timedelta(minutes=2)),
            _seen("later", "https://a.test/h", ago=timedelta(seconds=1)),
        ],
        now=NOW,
        after=GRACE,
    )
    assert settlement.moves == [("gone", "later")]


def test_an_orphaned_endpoint_whose_url_no_live_endpoint_names_is_dropped():
    settlement = settle_orphans(
        [
            _seen("gone", "https://a.test/h", ago=timedelta(hours=1)),
            _seen("other-kind", "https://a.test/h", ago=timedelta(seconds=1), kind="slack"),
            _seen("live", "https://b.test/h", ago=timedelta(seconds=1)),
        ],
        now=NOW,
        after=GRACE,
    )
    assert settlement == Settlement(moves=[], drops=["gone"])


def test_an_endpoint_a_running_instance_named_recently_is_not_orphaned():
    assert not orphaned(configured_at=NOW - timedelta(seconds=30), now=NOW, after=GRACE)


def test_an_endpoint_no_instance_has_named_for_the_grace_period_is_orphaned():
    assert orphaned(configured_at=NOW - GRACE, now=NOW, after=GRACE)


def test_an_endpoint_never_stamped_by_any_instance_is_orphaned():
    assert orphaned(configured_at=None, now=NOW, after=GRACE)
