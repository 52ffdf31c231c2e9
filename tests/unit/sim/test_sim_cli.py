import pytest

from touchline.sim.load import LoadResult, Probe, describe, percentile
from touchline.sim.main import cli


def test_plan_mode_prints_accounts_and_daily_volumes_without_a_stack(capsys):
    assert cli(["plan", "--accounts", "8", "--days", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "slow_decline" in out and "long_silent" in out
    assert out.count("events") == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--accounts", "0"], "--accounts"),
        (["plan", "--accounts", "10001"], "--accounts"),
        (["plan", "--days", "0"], "--days"),
        (["plan", "--history-days", "-1"], "--history-days"),
    ],
)
def test_out_of_range_sizes_are_refused_naming_the_option(argv, message):
    with pytest.raises(SystemExit, match=message):
        cli(argv)


def test_percentiles_of_few_values_stay_within_them():
    assert percentile([], 0.5) is None
    assert percentile([2.0], 0.95) == 2.0
    assert 1.0 <= percentile([1.0, 2.0, 3.0, 4.0], 0.5) <= 4.0


def test_load_report_says_when_no_probe_completed():
    result = LoadResult(target_rate=100, sent=1000, wall_s=10.0, drain_s=1.0, probes=[Probe("a", "a@x", 1.0)])
    text = describe(result)
    assert "100 events/s" in text and "no probe completed" in text
