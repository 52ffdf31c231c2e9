"""Read scorecards from YAML and report errors with file, line and field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ..domain.scorecard import ScorecardSet, parse_scorecards

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "scorecards" / "default.yaml"


class ScorecardFileError(ValueError):
    """The scorecard file cannot be used; the message names file, line and field."""


def _line_for(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location; the deepest line found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            continue  # pydantic adds steps (union tags, validators) that are not YAML keys
        node, line = child, child.start_mark.line + 1
    return line


def load_scorecards(path: Path | None = None) -> ScorecardSet:
    path = path or DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorecardFileError(f"{path}: cannot read scorecards: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ScorecardFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return parse_scorecards(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(document)"
            problems.append(f"{path}:{_line_for(root, loc) or 1}: {field}: {err['msg']}")
        raise ScorecardFileError("invalid scorecards:\n  " + "\n  ".join(problems)) from exc
