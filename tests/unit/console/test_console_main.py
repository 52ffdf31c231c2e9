from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from touchline.console import main
from touchline.console.auth import UserStore
from touchline.console.settings import ConsoleSettings
from touchline.shared.settings import CommonSettings


def test_adduser_writes_a_scrypt_hash_never_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users_file = tmp_path / "users.yaml"
    monkeypatch.setenv("TOUCHLINE_CONSOLE_USERS_FILE", str(users_file))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code = main.cli(["adduser", "Aiko@Example.com", "--name", "Aiko", "--locale", "en", "--password-stdin"])
    assert code == 0
    text = users_file.read_text()
    assert "a long enough password" not in text and "scrypt$" in text
    user = UserStore.load(users_file).authenticate("aiko@example.com", "a long enough password")
    assert user is not None and user.locale == "en" and user.name == "Aiko"


@pytest.mark.parametrize(("args", "stdin"), [(["not-an-email"], "a long enough password\n"), (["a@x.io"], "short\n")])
def test_adduser_refuses_a_bad_email_or_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str
) -> None:
    monkeypatch.setenv("TOUCHLINE_CONSOLE_USERS_FILE", str(tmp_path / "users.yaml"))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main.cli(["adduser", *args, "--password-stdin"]) == 2
    assert not (tmp_path / "users.yaml").exists()


def test_an_unknown_subcommand_is_refused() -> None:
    assert main.cli(["frobnicate"]) == 2


def test_a_demo_user_exists_only_in_dev_and_the_log_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = ConsoleSettings(users_file=str(tmp_path / "none.yaml"))
    with caplog.at_level(logging.WARNING):
        dev = main.load_users(CommonSettings(env="dev"), settings)
    assert dev.authenticate(main.DEMO_EMAIL, main.DEMO_PASSWORD) is not None
    assert "demo user" in caplog.text
    assert main.load_users(CommonSettings(env="test"), settings).all() == []


def test_production_refuses_the_dev_session_secret() -> None:
    common = CommonSettings(env="prod", api_token=SecretStr("a-real-token-0123456789"))
    with pytest.raises(ValueError, match="session_secret"):
        main.build_app(common, ConsoleSettings(), users=UserStore({}))
    app = main.build_app(
        common, ConsoleSettings(session_secret=SecretStr("a-real-secret-0123456789")), users=UserStore({})
    )
    assert app.state.console.secure_cookies
