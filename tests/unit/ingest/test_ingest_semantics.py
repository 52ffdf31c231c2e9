"""Well-known event names and canonical traits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from touchline.ingest.domain import Call
from touchline.ingest.semantics import (
    GROUP_RULES,
    IDENTIFY_RULES,
    canonical_traits,
    classify,
    event_document,
    normalise,
)
from touchline.shared.messages import ProductEvent

NOW = datetime(2027, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "semantic"),
    [
        ("Signed In", "login"),
        ("logged_in", "login"),
        ("LOGIN", "login"),
        ("Contract Signed", "signed"),
        ("Subscription Renewed", "renewed"),
        ("Churned", "cancelled"),
        ("Support Ticket Opened", "support_ticket"),
        ("Webinar Attended", "webinar_attended"),
        ("event_attended", "webinar_attended"),
        ("Exported Report", "other"),
    ],
)
def test_well_known_names_are_recognised(name: str, semantic: str) -> None:
    assert classify(name, {})[0] == semantic


def test_a_feature_property_makes_any_event_a_feature_use() -> None:
    assert classify("Report Exported", {"feature": "reports"}) == ("feature_used", "reports")


def test_feature_used_without_a_feature_property_is_still_a_feature_use() -> None:
    assert classify("Feature Used", {}) == ("feature_used", None)


def test_group_traits_aliases_become_canonical_keys_and_others_are_kept() -> None:
    traits, problems = canonical_traits(
        {
            "name": "Acme",
            "MRR": "1,000",
            "seatsPurchased": "25",
            "renewalDate": "2027-12-31T00:00:00Z",
            "csmOwner": "CSM@Example.com",
            "lifecycleStage": "Adoption",
            "language": "ja-JP",
            "industry": "retail",
        },
        rules=GROUP_RULES,
        path="traits",
    )
    assert not problems
    assert traits == {
        "name": "Acme",
        "mrr": 1000.0,
        "arr": 12000.0,
        "seats": 25,
        "renewal_date": "2027-12-31",
        "csm_owner": "csm@example.com",
        "lifecycle_stage": "adoption",
        "locale": "ja",
        "industry": "retail",
    }


def test_an_unreadable_canonical_trait_is_a_problem_naming_the_sent_key() -> None:
    _, problems = canonical_traits({"ARR": "lots", "renewal_date": "soon"}, rules=GROUP_RULES, path="$.traits")
    assert {p.path for p in problems} == {"$.traits.ARR", "$.traits.renewal_date"}


def test_identify_roles_are_normalised() -> None:
    traits, _ = canonical_traits({"role": "Administrator", "email": "A@B.co"}, rules=IDENTIFY_RULES, path="t")
    assert traits == {"role": "admin", "email": "a@b.co"}
    assert canonical_traits({"role": "Analyst"}, rules=IDENTIFY_RULES, path="t")[0] == {"role": "user"}


def test_languages_other_than_japanese_read_english() -> None:
    assert canonical_traits({"locale": "fr-FR"}, rules=IDENTIFY_RULES, path="t")[0] == {"locale": "en"}


def test_a_group_call_with_a_bad_trait_is_rejected_with_the_path() -> None:
    call = Call(index=0, kind="group", message_id="m", timestamp=NOW, received_at=NOW, group_id="g", traits={"roi": 42})
    problems = normalise(call, path="batch[2]")
    assert isinstance(problems, list) and problems[0].path == "batch[2].traits.roi"


def test_a_track_call_becomes_a_product_event_with_its_meaning() -> None:
    call = Call(index=0, kind="track", message_id="m", timestamp=NOW, received_at=NOW, user_id="u", event="Logged In")
    event = ProductEvent.model_validate(event_document(call, account_id="acme", source="product"))
    assert (event.account_id, event.semantic, event.source, event.key()) == ("acme", "login", "product", "acme")
