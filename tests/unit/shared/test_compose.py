"""No Docker engine runs here, so the operators' compose file is checked statically."""

import base64
import importlib
import os
import re
import secrets
from pathlib import Path

import pytest
import yaml

from touchline.shared.admin import SETTINGS_CLASSES, config_rows

ROOT = Path(__file__).resolve().parents[3]
APP_SERVICES = {"ingest", "health", "touch", "notify", "console"}


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_kafka_postgres_a_mail_sink_the_jobs_and_every_service() -> None:
    services = _compose()["services"]
    assert {"kafka", "postgres", "mailsink", "migrate", "topics"} | APP_SERVICES <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in APP_SERVICES:
        assert services[name]["command"] == [name]
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_every_touchline_variable_in_compose_is_a_real_setting() -> None:
    known = {name for name, _, _ in config_rows()}
    for name, service in _compose()["services"].items():
        env = service.get("environment") or {}
        unknown = {k for k in env if k.startswith("TOUCHLINE_") and k not in known}
        assert not unknown, f"{name}: {sorted(unknown)} are not settings of any service"


def test_healthchecks_hold_only_compose_healthcheck_keys() -> None:
    for name, service in _compose()["services"].items():
        check = service.get("healthcheck") or {}
        assert set(check) <= {"test", "interval", "timeout", "retries", "start_period"}, f"{name}: {sorted(check)}"


def test_consumer_services_publish_no_fixed_host_port_so_they_can_scale() -> None:
    services = _compose()["services"]
    for name in ("health", "touch"):
        assert "ports" not in services[name], f"{name} must scale with --scale {name}=3"


def _interpolations(text: str) -> dict[str, str]:
    """Every ``${NAME<op>...}`` in the file: NAME -> its operator (``:?``, ``?``, ``:-``, ``-`` or "")."""
    found: dict[str, str] = {}
    for name, op in re.findall(r"\$\{([A-Z0-9_]+)(:\?|\?|:-|-)?", text):
        found.setdefault(name, op)
        if op not in ("?", ":?"):
            found[name] = op  # one defaulted use is enough to fail open
    return found


def _secret_settings() -> set[str]:
    """Settings that hold a secret with a default (a dev value, or a dev write key)."""
    return {name for name, default, _ in config_rows() if default.startswith("(secret")}


SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "WRITE_KEYS")


def test_the_operators_stack_runs_in_prod_mode() -> None:
    for name in APP_SERVICES | {"migrate", "topics"}:
        env = _compose()["services"][name]["environment"]
        assert env["TOUCHLINE_ENV"] == "prod", f"{name}: TOUCHLINE_ENV must be prod, not {env['TOUCHLINE_ENV']!r}"


def test_no_secret_in_compose_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = {n: op for n, op in _interpolations(text).items() if any(w in n for w in SECRET_WORDS)}
    assert secrets, "compose names no secret at all"
    defaulted = {n: op for n, op in secrets.items() if op not in ("?", ":?")}
    assert not defaulted, f"secrets with a default (use ${{NAME:?message}}): {defaulted}"
    assert "dev-" not in text, "a dev- secret is written into docker-compose.yml"


def test_every_service_gets_each_secret_setting_it_has_from_a_required_variable() -> None:
    services = _compose()["services"]
    for secret in _secret_settings():
        owner = secret.removeprefix("TOUCHLINE_").split("_")[0].lower()
        users = [owner] if owner in APP_SERVICES else sorted(APP_SERVICES)
        for name in users:
            value = str(services[name]["environment"].get(secret, ""))
            assert re.fullmatch(r"\$\{" + secret + r":?\?[^}]+\}", value), f"{name}: {secret} = {value!r}"


def test_env_example_lists_every_variable_compose_requires_and_holds_no_secret() -> None:
    required = {n for n, op in _interpolations((ROOT / "docker-compose.yml").read_text()).items() if "?" in op}
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    filled = {n: v for n, v in example.items() if any(w in n for w in SECRET_WORDS) and v}
    assert not filled, f".env.example must leave secrets empty: {sorted(filled)}"


def test_published_ports_bind_the_publish_address_not_every_interface() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("${PUBLISH_ADDRESS:-127.0.0.1}:"), f"{name}: {port} binds 0.0.0.0"


def test_the_mail_sink_is_opt_in_and_notify_needs_a_real_smtp_server() -> None:
    services = _compose()["services"]
    assert services["mailsink"]["profiles"] == ["mailsink"]
    assert services["notify"]["environment"]["TOUCHLINE_NOTIFY_SMTP_HOST"].startswith("${TOUCHLINE_NOTIFY_SMTP_HOST:?")


class Missing(Exception):
    pass


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation (the forms this file uses), so the file can be checked
    without a Docker engine: ``${X}``, ``${X:-default}``, ``${X-default}``, ``${X:?msg}``, ``${X?msg}``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name)
        if (op == ":?" and not value) or (op == "?" and value is None):
            raise Missing(f"{name}: {arg}")
        if (op == ":-" and not value) or (op == "-" and value is None):
            return arg
        return value or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:\?|\?|:-|-)([^}]*))?\}", one, text)


def _filled_env_example() -> dict[str, str]:
    """.env.example as an operator fills it in (fresh secrets, their SMTP server)."""
    filled = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        filled[name] = value or secrets.token_urlsafe(32)
    filled |= {
        "TOUCHLINE_INGEST_WRITE_KEYS": f"product:{secrets.token_urlsafe(24)}",
        "TOUCHLINE_API_TOKENS": f"bi:read:{secrets.token_urlsafe(24)},console:admin:{secrets.token_urlsafe(24)}",
        "TOUCHLINE_NOTIFY_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "TOUCHLINE_NOTIFY_PUBLIC_URL": "https://cs.example.com",
        "TOUCHLINE_NOTIFY_INAPP_ALLOWED_ORIGINS": "https://app.example.com",
        "TOUCHLINE_NOTIFY_SMTP_HOST": "smtp.example.com",
        "TOUCHLINE_NOTIFY_SMTP_PORT": "587",
        "TOUCHLINE_NOTIFY_SMTP_USER": "",
        "TOUCHLINE_NOTIFY_SMTP_PASSWORD": "",
        "TOUCHLINE_NOTIFY_MAIL_FROM": "Acme CS <cs@acme-cloud.jp>",
        "TOUCHLINE_NOTIFY_PRODUCT_NAME": "Acme Cloud",
        "TOUCHLINE_NOTIFY_HELP_URL": "https://help.acme-cloud.jp",
        "TOUCHLINE_NOTIFY_SUPPORT_URL": "https://acme-cloud.jp/support",
        "TOUCHLINE_NOTIFY_SUPPORT_PHONE": "+81 3-1234-5678",
    }
    return filled


def test_compose_refuses_to_start_without_env_and_names_the_first_missing_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    with pytest.raises(Missing, match=r"POSTGRES_PASSWORD: set POSTGRES_PASSWORD"):
        _interpolate(text, {})
    unfilled = dict.fromkeys(_filled_env_example(), "")
    with pytest.raises(Missing):
        _interpolate(text, unfilled)  # a copied .env.example left empty starts nothing either


def test_a_filled_in_env_example_starts_every_service_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    from touchline.ingest.settings import refuse_dev_write_keys
    from touchline.shared.settings import CommonSettings, refuse_dev_secrets

    compose = yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(), _filled_env_example()))
    classes = {t.split(".")[1]: t for t in SETTINGS_CLASSES if t.split(".")[1] in APP_SERVICES}
    for name in sorted(APP_SERVICES):
        for key in [k for k in os.environ if k.startswith("TOUCHLINE_")]:
            monkeypatch.delenv(key)
        for key, value in compose["services"][name]["environment"].items():
            monkeypatch.setenv(key, str(value))
        common = CommonSettings()
        module, _, cls = classes[name].partition(":")
        settings = getattr(importlib.import_module(module), cls)()
        refuse_dev_secrets(settings, env=common.env)
        if name == "ingest":
            refuse_dev_write_keys(settings, env=common.env)
        if name == "notify":
            from touchline.notify.main import refuse_placeholders

            refuse_placeholders(settings, env=common.env)  # product, help/support links, sender
        assert common.env == "prod" and common.clock == "system"
