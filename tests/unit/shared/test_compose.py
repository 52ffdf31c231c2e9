"""No Docker engine runs here, so the operators' compose file is checked statically."""

from pathlib import Path

import yaml

from touchline.shared.admin import config_rows

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


def test_notify_sends_to_the_compose_mail_sink() -> None:
    env = _compose()["services"]["notify"]["environment"]
    assert env["TOUCHLINE_NOTIFY_SMTP_HOST"] == "mailsink"


def test_consumer_services_publish_no_fixed_host_port_so_they_can_scale() -> None:
    services = _compose()["services"]
    for name in ("health", "touch"):
        assert "ports" not in services[name], f"{name} must scale with --scale {name}=3"
