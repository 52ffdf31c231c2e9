"""Which ports the local stack's sink and services listen on, so two checkouts run side by side.

Each piece gets its default port when it is free; when another checkout's stack (or anything
else) holds it, a free port instead. A piece of this stack that still runs keeps the port it was
started with. The choice is kept in ``<home>/ports.json`` and written to ``<home>/env``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

# Tried before giving up on finding an unused spare port (another process may take one between
# the check and our bind; a handful of tries is plenty on a developer's machine).
SPARE_TRIES = 20


def choose(
    defaults: Mapping[str, int],
    *,
    keep: Mapping[str, int],
    taken: Callable[[int], bool],
    spare: Callable[[], int],
) -> dict[str, int]:
    """A port per name of ``defaults``: ``keep``'s when given, else the default unless taken,
    else a spare one that is no other name's default; never the same port for two names."""
    chosen = {name: port for name, port in keep.items() if name in defaults}
    for name, default in defaults.items():
        if name in chosen:
            continue
        used = set(chosen.values())
        # A spare must not be another name's default either: that name would lose it.
        reserved = used | {p for n, p in defaults.items() if n != name and n not in chosen}
        port = default
        tries = 0
        while port in used or taken(port) or (port != default and port in reserved):
            tries += 1
            if tries > SPARE_TRIES:
                raise RuntimeError(f"no free port found for {name} after {SPARE_TRIES} tries")
            port = spare()
        chosen[name] = port
    return chosen


def load(path: Path) -> dict[str, int]:
    """The ports saved by the last start; {} when none or unreadable (a fresh choice is made)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def save(path: Path, ports: Mapping[str, int]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(ports), indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
