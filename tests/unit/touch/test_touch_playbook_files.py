"""Playbook files: validated with errors naming file, line and field; `touchline touch validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchline.touch.adapters.config import ConfigError, load_playbook, load_playbooks
from touchline.touch.main import cli
from touchline.touch.settings import CONFIG_DIR

SEEDS = Path(CONFIG_DIR) / "playbooks"
GOOD = """\
name: hello
trigger: {signal: signed}
variants:
  default:
    - id: hi
      send: {channel: email, template: onboarding.welcome}
    - id: wait
      wait_for:
        duration: 2d
        on:
          - {signals: [opened], goto: end}
        timeout: nudge
    - id: nudge
      task: {type: onboarding_no_response, reason: silent, subject: Call them}
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_seed_playbooks_are_all_valid_and_use_the_agreed_templates_and_task_types() -> None:
    playbooks = load_playbooks(SEEDS)
    assert set(playbooks) == {"onboarding", "renewal", "risk", "advocacy", "reengagement", "churn", "band_drop"}
    templates = {s.template for p in playbooks.values() for steps in p.variants.values() for s in steps if s.template}
    assert templates <= {
        "onboarding.welcome", "onboarding.training_invite", "onboarding.setup_material", "onboarding.tips",
        "onboarding.thanks", "onboarding.reminder", "onboarding.satisfaction_survey", "renewal.reminder_survey",
        "renewal.offer", "renewal.thanks", "risk.decline_notice", "risk.use_cases", "risk.feature_survey", "band_drop.check_in",
        "advocacy.nps_survey", "advocacy.passive_thanks", "advocacy.promoter_referral_ask", "advocacy.reminder",
        "advocacy.gift_thanks", "advocacy.detractor_followup", "reengagement.news", "churn.exit_survey",
    }  # fmt: skip
    shipped = Path(__file__).parents[3] / "services" / "notify" / "templates"
    for step in (s for p in playbooks.values() for steps in p.variants.values() for s in steps if s.template):
        folder = "email" if step.channel == "email" else "inapp"
        assert any((shipped / folder).glob(f"{step.template}.*")), f"{step.template} has no {folder} template"
    types = {s.task_type for p in playbooks.values() for steps in p.variants.values() for s in steps if s.task_type}
    assert types <= {
        "onboarding_no_response", "onboarding_stalled", "renewal_churn_risk", "renewal_follow_up", "risk_no_recovery",
        "risk_high_touch", "detractor_follow_up", "passive_interview", "referral_gift", "account_plan",
        "reengagement_low_touch", "churn_reason", "webinar_invite", "band_drop_no_reaction", "band_drop_check_in",
        "band_drop_call",
    }  # fmt: skip


def test_a_bare_on_key_is_read_as_the_branches_despite_yaml_1_1(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, GOOD))
    assert playbook.variants["default"][1].when[0].goto == "end"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("goto: end", "goto: nowhere"), "goes to unknown step 'nowhere'"),
        (("signals: [opened]", "signals: [smiled]"), ":11: variants.default.1.when.0.signals: unknown signal 'smiled'"),
        (("duration: 2d", "duration: two days"), ":9: variants.default.1.duration: duration 'two days'"),
        (("type: onboarding_no_response, ", ""), "needs task_type"),
        (("signal: signed", "signal: signed, date: {attribute: renewal_date}"), "exactly one of signal, date"),
        (
            ("template: onboarding.welcome", "template: onboarding.welcome, colour: red"),
            ":6: variants.default.0.colour",
        ),
        (
            ("template: onboarding.welcome", "template: renewal.offer, offer: {tiers: {any: {likely: {}}}}"),
            "offer.tiers.any: needs exactly the answers likely, undecided, unlikely, unanswered",
        ),
        (
            (
                "template: onboarding.welcome",
                "template: renewal.offer, offer: {tiers: {any: {likely: {discount_percent: 0}}}}",
            ),
            "discount_percent",
        ),
        (("trigger: {signal: signed}", "trigger: {signal: signed, max_runs: 3}"), "max_runs only applies"),
        (
            ("type: onboarding_no_response, ", "type: onboarding_no_response, offer_features: true, "),
            "belong to a send",
        ),
    ],
)
def test_mistakes_are_reported_with_file_line_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_playbook(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_unreadable_yaml_and_duplicate_names_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p.yaml:2: not valid YAML"):
        load_playbook(write(tmp_path, "name: x\n  bad: [\n"))
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ConfigError, match="'hello' is defined twice"):
        load_playbooks(tmp_path)


def test_the_validate_command_exits_non_zero_and_names_the_problem(tmp_path: Path, capsys) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, GOOD.replace("goto: end", "goto: nowhere"), "bad.yaml")
    assert cli(["validate", str(good), str(SEEDS.parent / "tiers.yaml")]) == 0
    assert cli(["validate", str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err
    assert cli(["validate", str(tmp_path / "missing.yaml")]) == 1
    assert cli(["bogus"]) == 2
