"""``python -m touchline.shared.stack up|down|status|logs|env|infra``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from touchline.shared.stack import ports, services
from touchline.shared.stack.kafka import kafka_bootstrap, ports_to_use, start_kafka, stop_kafka
from touchline.shared.stack.layout import DATABASE_ENV, KAFKA_ENV, Layout, free_port, port_open, tail
from touchline.shared.stack.postgres import postgres_pid, postgres_url, start_postgres, stop_postgres

SMTP_PORT = 2525
SINK = "smtp-sink"
SERVICE_PORTS = {"ingest": 8001, "health": 8002, "touch": 8003, "notify": 8004, "console": 8005}
DEFAULT_PORTS = {SINK: SMTP_PORT, **SERVICE_PORTS}
APP_CLI = "touchline.shared.cli"
# A service still alive this long after spawning got past imports and settings validation.
SETTLE_SECONDS = 1.5


def _say(name: str, what: str) -> None:
    print(f"  {name:<10} {what}", flush=True)


def _timed(name: str, running: str | None, start: Callable[[], str], log: Path) -> str:
    if running:
        _say(name, f"{running} (already running)")
        return running
    began = time.monotonic()
    value = start()
    _say(name, f"{value} (started in {time.monotonic() - began:.1f}s, log {log})")
    return value


def _kafka(layout: Layout) -> str:
    if os.environ.get(KAFKA_ENV):
        _say("kafka", f"{os.environ[KAFKA_ENV]} (from {KAFKA_ENV}, not started)")
        return os.environ[KAFKA_ENV]
    port, controller_port = ports_to_use(layout)
    start = lambda: start_kafka(layout.home, port=port, controller_port=controller_port)  # noqa: E731
    return _timed("kafka", kafka_bootstrap(layout), start, layout.log("kafka"))


def _postgres(layout: Layout) -> str:
    if os.environ.get(DATABASE_ENV):
        _say("postgres", f"{os.environ[DATABASE_ENV]} (from {DATABASE_ENV}, not started)")
        return os.environ[DATABASE_ENV]
    start = lambda: start_postgres(layout.home)  # noqa: E731
    return _timed("postgres", postgres_url(layout.home), start, layout.log("postgres"))


def choose_ports(layout: Layout) -> dict[str, int]:
    """The sink's and services' ports (see ``touchline.shared.stack.ports``), saved in the home."""
    saved = {**DEFAULT_PORTS, **ports.load(layout.ports_file)}  # a stack started before ports.json: defaults
    keep = {name: saved[name] for name in DEFAULT_PORTS if services.pid_of(layout, name) is not None}
    chosen = ports.choose(DEFAULT_PORTS, keep=keep, taken=port_open, spare=free_port)
    ports.save(layout.ports_file, chosen)
    return chosen


def _sink(layout: Layout, port: int) -> None:
    argv = [
        sys.executable,
        "-m",
        "touchline.shared.stack.smtp_sink",
        "--port",
        str(port),
        "--dir",
        str(layout.mail_dir),
    ]
    pid, started = services.start(layout, SINK, argv)
    deadline = time.monotonic() + 10
    while not port_open(port):
        if not services.alive(pid) or time.monotonic() > deadline:
            raise SystemExit(f"smtp sink did not start; see {layout.log(SINK)}")
        time.sleep(0.1)
    state = "started" if started else "already running"
    _say(SINK, f"127.0.0.1:{port} ({state}), mail in {layout.mail_dir}")


def stack_env(*, kafka: str, database: str, ports: Mapping[str, int] = DEFAULT_PORTS) -> dict[str, str]:
    """Where this stack's Kafka, Postgres, mail sink and services are, under the names the
    settings read. Kafka and the rest may not be on their default ports when another checkout's
    stack holds those: a service on another port is named (its port, the URLs that reach it);
    one on its default is left to the settings' defaults."""
    env = {
        KAFKA_ENV: kafka,
        DATABASE_ENV: database,
        "TOUCHLINE_NOTIFY_SMTP_HOST": "127.0.0.1",
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(ports[SINK]),
    }
    moved = {name: ports[name] for name, port in SERVICE_PORTS.items() if ports[name] != port}
    for name, port in moved.items():
        env[f"TOUCHLINE_{name.upper()}_PORT"] = str(port)
        if name in ("health", "touch", "notify"):
            env[f"TOUCHLINE_CONSOLE_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    if "notify" in moved:
        notify = moved["notify"]
        env["TOUCHLINE_NOTIFY_PUBLIC_URL"] = f"http://127.0.0.1:{notify}"
        env["TOUCHLINE_NOTIFY_INAPP_ALLOWED_ORIGINS"] = f"http://127.0.0.1:{notify},http://localhost:{notify}"
    return env


def infra_env(layout: Layout) -> dict[str, str]:
    """Start Kafka, Postgres and the sink as needed; write and return the env file's values."""
    with layout.lock():
        chosen = choose_ports(layout)
        env = stack_env(kafka=_kafka(layout), database=_postgres(layout), ports=chosen)
        _sink(layout, chosen[SINK])
    lines = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    layout.env_file.write_text("\n".join(lines) + "\n")
    return env


def _app_env(infra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **infra}
    env.setdefault("TOUCHLINE_ENV", "dev")
    env.setdefault("TOUCHLINE_CLOCK", "simulated")
    return env


def _app_cli_exists() -> bool:
    try:
        return importlib.util.find_spec(APP_CLI) is not None
    except ImportError:
        return False


def _run_app_step(*args: str, env: Mapping[str, str]) -> None:
    label = " ".join(args)
    if not _app_cli_exists():
        print(f"warning: {APP_CLI} does not exist yet; skipped 'touchline {label}'")
        return
    print(f"  running    touchline {label}", flush=True)
    result = subprocess.run([sys.executable, "-m", APP_CLI, *args], env=dict(env), check=False)
    if result.returncode != 0:
        raise SystemExit(f"'touchline {label}' failed with exit code {result.returncode}")


def _start_services(layout: Layout, env: Mapping[str, str]) -> None:
    if not _app_cli_exists():
        print(f"warning: {APP_CLI} does not exist yet; services not started")
        return
    fresh = []
    chosen = {**DEFAULT_PORTS, **ports.load(layout.ports_file)}
    for name in SERVICE_PORTS:
        port = chosen[name]
        service_env = {**env, f"TOUCHLINE_{name.upper()}_PORT": str(port)}
        pid, started = services.start(layout, name, [sys.executable, "-m", APP_CLI, name], env=service_env)
        fresh += [(name, pid)] if started else []
        state = "started" if started else "already running"
        _say(name, f"http://127.0.0.1:{port} ({state}, pid {pid}, log {layout.log(name)})")
    time.sleep(SETTLE_SECONDS if fresh else 0)
    for name, pid in fresh:
        if not services.alive(pid):
            print(f"error: {name} exited at start-up; {layout.log(name)} ends with:")
            print(tail(layout.log(name), 4))


def up(layout: Layout, *, with_services: bool = True) -> None:
    print(f"touchline local stack in {layout.home}")
    infra = infra_env(layout)
    print(f"  env        {layout.env_file} (source it to reach the stack from a shell)")
    if not with_services:
        print(layout.env_file.read_text(), end="")
        return
    env = _app_env(infra)
    _run_app_step("migrate", env=env)
    _run_app_step("topics", "create", env=env)
    _start_services(layout, env)
    print(f"logs: python -m touchline.shared.stack logs   (files in {layout.logs_dir})")


def down(layout: Layout) -> None:
    for name in [*SERVICE_PORTS, SINK]:
        if services.stop(layout, name):
            _say(name, "stopped")
    if stop_kafka(layout.home):
        _say("kafka", "stopped")
    if stop_postgres(layout.home):
        _say("postgres", "stopped")


def status(layout: Layout) -> int:
    """Print what runs; exit status 0 if anything does, 3 (LSB "not running") otherwise."""
    chosen = {**DEFAULT_PORTS, **ports.load(layout.ports_file)}
    rows = {
        "kafka": (services.pid_of(layout, "kafka"), kafka_bootstrap(layout)),
        "postgres": (postgres_pid(layout.home), postgres_url(layout.home)),
        SINK: (services.pid_of(layout, SINK), f"127.0.0.1:{chosen[SINK]}"),
    }
    for name in SERVICE_PORTS:
        rows[name] = (services.pid_of(layout, name), f"http://127.0.0.1:{chosen[name]}")
    for name, (pid, where) in rows.items():
        _say(name, f"running, pid {pid}, {where}" if pid else "stopped")
    return 0 if any(pid for pid, _ in rows.values()) else 3


def logs(layout: Layout) -> None:
    files = sorted(str(path) for path in layout.logs_dir.glob("*.log"))
    if not files:
        raise SystemExit(f"no logs yet in {layout.logs_dir}")
    os.execvp("tail", ["tail", "-F", *files])


def env(layout: Layout) -> None:
    if not layout.env_file.exists():
        raise SystemExit(f"{layout.env_file} does not exist: run 'make up' first")
    print(layout.env_file.read_text(), end="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m touchline.shared.stack")
    parser.add_argument("command", choices=["up", "down", "status", "logs", "env", "infra"])
    parser.add_argument("--home", type=Path, help="state folder (default: $TOUCHLINE_HOME)")
    args = parser.parse_args(argv)
    layout = Layout.at(args.home)
    if args.command in ("up", "infra"):
        up(layout, with_services=args.command == "up")
    elif args.command == "down":
        down(layout)
    elif args.command == "status":
        return status(layout)
    elif args.command == "logs":
        logs(layout)
    else:
        env(layout)
    return 0
