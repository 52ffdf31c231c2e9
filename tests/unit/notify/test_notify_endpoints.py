"""Webhook endpoints from configuration, and when queued webhooks of an endpoint are given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchline.notify.domain.endpoints import Endpoint, configured_endpoints, endpoint_id, orphaned

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def test_the_same_url_is_the_same_endpoint_in_every_instance():
    assert endpoint_id("https://crm.test/hook") == endpoint_id("https://crm.test/hook")
    assert endpoint_id("https://crm.test/hook") != endpoint_id("https://crm.test/other")


def test_configured_endpoints_are_the_webhook_urls_once_each_then_slack():
    endpoints = configured_endpoints(
        webhook_urls=["https://a.test/h", "https://b.test/h", "https://a.test/h"],
        slack_webhook_url="https://hooks.slack.test/x",
    )
    assert [(e.url, e.kind) for e in endpoints] == [
        ("https://a.test/h", "standard"),
        ("https://b.test/h", "standard"),
        ("https://hooks.slack.test/x", "slack"),
    ]
    assert endpoints[0] == Endpoint(endpoint_id("https://a.test/h"), "https://a.test/h", "standard")


def test_no_urls_and_no_slack_configure_no_endpoint():
    assert configured_endpoints(webhook_urls=[], slack_webhook_url="") == []


def test_an_endpoint_a_running_instance_named_recently_is_not_orphaned():
    assert not orphaned(configured_at=NOW - timedelta(seconds=30), now=NOW, after=GRACE)


def test_an_endpoint_no_instance_has_named_for_the_grace_period_is_orphaned():
    assert orphaned(configured_at=NOW - GRACE, now=NOW, after=GRACE)


def test_an_endpoint_never_stamped_by_any_instance_is_orphaned():
    assert orphaned(configured_at=None, now=NOW, after=GRACE)
