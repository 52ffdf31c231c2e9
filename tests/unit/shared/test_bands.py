"""The bands and their order are defined once (shared/messages.py); the rest derives from it."""

from __future__ import annotations

from touchline.console.charts import BAND_COLOURS
from touchline.console.i18n import load_catalogues
from touchline.health.adapters.queries import SORTS
from touchline.health.domain.overrides import BANDS as OVERRIDE_BANDS
from touchline.shared.messages import BANDS, BANDS_WORST_FIRST
from touchline.touch.domain.signals import BAND_RANK


def test_bands_run_from_good_to_action_required_and_back() -> None:
    assert BANDS == ("good", "healthy", "caution", "action_required")
    assert BANDS_WORST_FIRST == tuple(reversed(BANDS))


def test_touch_ranks_and_health_sorts_bands_worst_first() -> None:
    assert sorted(BAND_RANK, key=BAND_RANK.__getitem__) == list(BANDS_WORST_FIRST)
    assert OVERRIDE_BANDS == BANDS_WORST_FIRST
    worst_first_sql = ",".join(f"'{b}'" for b in BANDS_WORST_FIRST)
    assert SORTS["band"].startswith(f"array_position(ARRAY[{worst_first_sql}], band)")


def test_the_console_has_a_colour_and_a_label_in_every_language_for_each_band() -> None:
    assert set(BAND_COLOURS) == set(BANDS)
    for locale, catalogue in load_catalogues().items():
        assert {f"band.{b}" for b in BANDS} <= set(catalogue), locale
