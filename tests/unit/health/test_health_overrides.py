from datetime import UTC, datetime, timedelta

import pytest

from touchline.health.domain.overrides import OverrideError, active, make_override, put, remove, unexpired

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def mk(**kw):  # type: ignore[no-untyped-def]
    args = {
        "kind": "score",
        "reason": "why",
        "set_by": "csm",
        "now": NOW,
        "expires_at": NOW + timedelta(days=7),
        "score": 50.0,
        "known_measures": {"nps"},
    }
    args.update(kw)
    return make_override(**args)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "tier"}, "kind"),
        ({"reason": "  "}, "reason"),
        ({"expires_at": NOW}, "expires_at"),
        ({"score": 120.0}, "score"),
        ({"score": None}, "score"),
        ({"kind": "band", "band": "purple"}, "band"),
        ({"kind": "measure", "measure": "nope"}, "measure"),
    ],
)
def test_invalid_override_requests_name_the_field(kw: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(OverrideError) as exc:
        mk(**kw)
    assert exc.value.field == field


def test_an_override_expires_by_itself() -> None:
    o = mk()
    assert active([o], NOW + timedelta(days=6)) == [o]
    assert active([o], NOW + timedelta(days=7)) == []
    assert unexpired([o], NOW + timedelta(days=8)) == []


def test_a_new_override_of_the_same_kind_replaces_the_old_and_clear_removes_it() -> None:
    a, b = mk(score=10.0), mk(score=20.0)
    pin = mk(kind="measure", measure="nps", score=90.0)
    kept = put(put(put([], a), pin), b)
    assert kept == [pin, b]
    assert remove(kept, kind="measure", measure="nps") == [b]
