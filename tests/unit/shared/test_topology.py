"""The topic catalogue and the services' own declarations (their topology.py) tell one story."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from touchline.health import consumer as health_consumer
from touchline.health.topology import TOPOLOGY as HEALTH
from touchline.ingest.topology import TOPOLOGY as INGEST
from touchline.notify import consumer as notify_consumer
from touchline.notify.topology import TOPOLOGY as NOTIFY
from touchline.shared import admin, topics
from touchline.touch import consumer as touch_consumer
from touchline.touch.topology import TOPOLOGY as TOUCH

ROOT = Path(__file__).resolve().parents[3]
SERVICES = (INGEST, HEALTH, TOUCH, NOTIFY)
DECLARED = (*SERVICES, admin.TOPOLOGY)
CATALOGUE_NAMES = {name for name, value in vars(topics).items() if isinstance(value, topics.Topic)}


def test_each_topic_lists_as_consumers_the_services_that_declare_consuming_it() -> None:
    for topic in topics.ALL:
        declared = {t.service for t in DECLARED if topic in t.consumes}
        assert set(topic.consumers) == declared, topic.name
        assert len(topic.consumers) == len(set(topic.consumers)), topic.name


def test_each_topic_names_as_producer_the_one_service_that_declares_emitting_it() -> None:
    for topic in topics.ALL:
        assert [t.service for t in DECLARED if topic in t.emits] == [topic.producer], topic.name


def test_services_declare_only_catalogued_topics() -> None:
    for declared in DECLARED:
        assert set(declared.consumes) | set(declared.emits) <= set(topics.ALL), declared.service


@pytest.mark.parametrize("declared", SERVICES, ids=lambda t: t.service)
def test_a_service_names_only_the_topics_it_declares(declared: topics.Topology) -> None:
    """A publish or subscription added in code without its declaration fails here."""
    allowed = {name for name in CATALOGUE_NAMES if getattr(topics, name) in (*declared.consumes, *declared.emits)}
    named = set()
    for path in (ROOT / "services" / declared.service).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "topics":
                named |= {node.attr} & CATALOGUE_NAMES
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("shared.topics"):
                named |= {alias.name for alias in node.names} & CATALOGUE_NAMES
    assert named <= allowed, f"{declared.service} names {sorted(named - allowed)} without declaring them"


def _recording(calls: list[dict[str, Any]]) -> Any:
    def start_consumer(runtime: object, **kwargs: Any) -> None:
        calls.append(kwargs)

    return start_consumer


class _Runtime:
    clock = None


def test_every_consumer_subscribes_to_what_its_service_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    for module in (health_consumer, touch_consumer, notify_consumer):
        monkeypatch.setattr(module, "start_consumer", _recording(calls))
    health_consumer.start_health_consumers(_Runtime(), ctx=None, max_batch=10)  # type: ignore[arg-type]
    touch_consumer.start(_Runtime(), flows=None)  # type: ignore[arg-type]
    notify_consumer.start(_Runtime(), deps=None)  # type: ignore[arg-type]
    subscribed = {c["group_id"]: c["subscribe"] for c in calls}
    assert subscribed == {"health": HEALTH.subscribes, "touch": TOUCH.subscribes, "notify": NOTIFY.subscribes}
    for declared in (HEALTH, TOUCH, NOTIFY):
        assert topics.CLOCK not in declared.subscribes  # read by the clock feed, not the group
