from pathlib import Path

from touchline.shared.admin import END, START, config_table, with_config_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_configuration_table_matches_the_settings_classes() -> None:
    text = README.read_text()
    assert START in text and END in text
    assert with_config_table(text) == text, "run: .venv/bin/touchline config-table --write README.md"


def test_config_table_names_every_common_setting_with_its_default() -> None:
    table = config_table()
    assert "| `TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS` | `127.0.0.1:29092` |" in table
    assert "| `TOUCHLINE_API_TOKEN` | `(secret, dev default)` |" in table


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make up" in text and "make test" in text
