"""``touchline`` — one entry point for the services, the local stack and the admin tools.

Each command is a ``module:function`` taking the remaining argv and returning an exit code,
imported only when used, so running one service never imports the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("touchline.ingest.main:cli", "run the ingest HTTP service (Segment-compatible API)"),
    "health": ("touchline.health.main:cli", "run the health scoring service (or: health trust ...)"),
    "touch": (
        "touchline.touch.main:cli",
        "run the touch service (or: touch validate FILE, touch effectiveness PLAYBOOK)",
    ),
    "notify": ("touchline.notify.main:cli", "run the notify service (or: notify preview TEMPLATE)"),
    "console": ("touchline.console.main:cli", "run the CSM web console"),
    "migrate": ("touchline.shared.admin:migrate_cli", "apply every service's database migrations"),
    "topics": ("touchline.shared.admin:topics_cli", "topics create|list: create the catalogue topics"),
    "clock": ("touchline.shared.admin:clock_cli", "clock show|set T|advance 30d: simulated time"),
    "config-table": ("touchline.shared.admin:config_table_cli", "print the configuration table (Markdown)"),
    "asyncapi": ("touchline.shared.asyncapi:cli", "print (or --write) the AsyncAPI 3.0 document of the topics"),
    "stack": ("touchline.shared.stack.cli:main", "stack up|down|status|logs|infra: the local stack"),
    "import": (
        "touchline.ingest.import_cli:cli",
        "import accounts|contacts FILE [--mapping salesforce|hubspot|FILE.yaml] [--dry-run]",
    ),
    "simulate": ("touchline.sim.main:cli", "run the product simulator against ingest"),
}


def _usage() -> str:
    lines = ["usage: touchline COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<13} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def resolve(target: str) -> Callable[[list[str]], int]:
    module_name, _, func = target.partition(":")
    return getattr(importlib.import_module(module_name), func)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    entry = COMMANDS.get(args[0])
    if entry is None:
        print(f"touchline: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return resolve(entry[0])(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
