"""The stack's env file speaks the settings' names, so `make demo` and a shell reach the stack."""

import pytest

from touchline.notify.settings import NotifySettings
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.cli import stack_env

VALUES = stack_env(kafka="127.0.0.1:54359", database="postgresql+asyncpg://postgres@/postgres?host=/x")


def _names(settings: type, prefix: str) -> set[str]:
    return {f"{prefix}{field.upper()}" for field in settings.model_fields}  # type: ignore[attr-defined]


def test_every_name_in_the_env_file_is_one_a_setting_reads() -> None:
    read = _names(CommonSettings, "TOUCHLINE_") | _names(NotifySettings, "TOUCHLINE_NOTIFY_")
    assert set(VALUES) <= read, set(VALUES) - read


def test_a_shell_with_the_env_file_reaches_kafka_on_a_port_other_than_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in VALUES.items():
        monkeypatch.setenv(key, value)
    common = CommonSettings()
    assert common.kafka_bootstrap_servers == "127.0.0.1:54359"
    assert common.database_url.endswith("host=/x")
