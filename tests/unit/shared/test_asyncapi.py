"""The AsyncAPI document: generated from the topic catalogue and the message models, shipped in
docs/asyncapi.yaml and kept equal to what `touchline asyncapi` generates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from touchline.shared import topics
from touchline.shared.asyncapi import document, render
from touchline.shared.cli import main
from touchline.shared.messages import REGISTRY, ProductEvent

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "docs" / "asyncapi.yaml"
T = datetime(2031, 1, 1, tzinfo=UTC)
REGISTRY_BY_NAME = {m.__name__: m for m in REGISTRY.values()}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def payload_validator(doc: dict[str, Any], model: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{model}", "components": doc["components"]},
        format_checker=jsonschema.FormatChecker(),
    )


def test_the_shipped_document_is_what_the_generator_makes_now() -> None:
    assert SHIPPED.read_text() == render(), "run `touchline asyncapi --write docs/asyncapi.yaml` and commit the result"


def test_the_shipped_document_is_asyncapi_3_with_every_topic_and_its_dlq() -> None:
    doc = yaml.safe_load(SHIPPED.read_text())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    for topic in topics.ALL:
        channel = addresses[topic.name]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert topics.dlq_name(topic.name) in addresses
        [message_ref] = [m["$ref"] for m in channel["messages"].values()]
        message = resolve(doc, message_ref)
        assert message["headers"]["properties"]["ce_type"]["const"] == REGISTRY_BY_NAME[topic.carries].ce_type
        senders = [
            o
            for o in doc["operations"].values()
            if o["action"] == "send" and resolve(doc, o["channel"]["$ref"]) is channel
        ]
        receivers = [
            o
            for o in doc["operations"].values()
            if o["action"] == "receive" and resolve(doc, o["channel"]["$ref"]) is channel
        ]
        assert len(senders) == 1 and len(receivers) == len(topic.consumers), topic.name


def test_every_reference_in_the_document_resolves() -> None:
    doc = document()
    found = refs(doc)
    assert len(found) > 30
    for ref in found:
        resolve(doc, ref)


def test_a_message_the_model_writes_validates_against_its_schema_and_a_broken_one_does_not() -> None:
    doc = document()
    event = ProductEvent(
        message_id="m-1",
        account_id="acct-1",
        kind="track",
        event="Logged In",
        semantic="login",
        timestamp=T,
        received_at=T,
    )
    validator = payload_validator(doc, "ProductEvent")
    validator.validate(event.model_dump(mode="json"))
    broken = event.model_dump(mode="json")
    del broken["account_id"]
    broken["kind"] = "shout"
    errors = {e.message for e in validator.iter_errors(broken)}
    assert any("account_id" in m for m in errors) and any("shout" in m for m in errors)


def test_the_unknown_reference_check_fails_loudly() -> None:
    with pytest.raises(KeyError):
        resolve(document(), "#/components/schemas/NoSuchModel")


def test_touchline_asyncapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi"]) == 0
    assert capsys.readouterr().out == render()
