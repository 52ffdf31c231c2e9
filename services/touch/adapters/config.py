"""Reading tier and playbook files; errors name the file, the line and the field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..domain.playbook import Playbook, parse_playbook
from ..domain.tiers import TierRules

STEP_KINDS = ("send", "task", "wait", "wait_for", "check")


class ConfigError(ValueError):
    """One or more problems in a configuration file, each naming file, line and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        return yaml.safe_load(source), yaml.compose(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc


def _line(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """Best effort: the line of the deepest YAML node the error location reaches."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        names = (part, "on") if part == "when" else (part,)  # `on:` is how authors usually spell `when:`
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value in names), None)
            if found is None:  # step fields live under their kind key (send: {template: ...})
                kinds = [v for k, v in node.value if k.value in STEP_KINDS and isinstance(v, yaml.MappingNode)]
                found = next((v for kv in kinds for k, v in kv.value if k.value in names), None)
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _problems(path: Path, exc: ValidationError, root: yaml.Node | None) -> list[str]:
    out = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        line = _line(root, loc)
        field = ".".join(str(p) for p in loc) or "(document)"
        message = err["msg"].removeprefix("Value error, ")
        out.append(f"{path}{f':{line}' if line else ''}: {field}: {message}")
    return out


def load_tiers(path: Path) -> TierRules:
    data, root = _read(path)
    try:
        return TierRules.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(path, exc, root)) from exc


def load_playbook(path: Path) -> Playbook:
    data, root = _read(path)
    try:
        return parse_playbook(data)
    except ValidationError as exc:
        raise ConfigError(_problems(path, exc, root)) from exc


def load_playbooks(directory: Path) -> dict[str, Playbook]:
    """Every *.yaml in the directory; all problems of all files reported together."""
    if not directory.is_dir():
        raise ConfigError([f"{directory}: playbook directory not found"])
    found: dict[str, Playbook] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            playbook = load_playbook(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if playbook.name in found:
            problems.append(f"{path}: name: playbook {playbook.name!r} is defined twice")
        found[playbook.name] = playbook
    if problems:
        raise ConfigError(problems)
    return found
