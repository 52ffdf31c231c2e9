"""pyproject lists packages by hand (package-dir mapping); keep the list true to the tree."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_python_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = config["package-dir"]
    listed = set(config["packages"])
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "migrations" in rel.parts or "tests" in rel.parts:
                continue
            found.add(".".join([package, *rel.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def _name(requirement: str) -> str:
    """'sqlalchemy[asyncio]>=2.0' -> 'sqlalchemy'; names compare as pip does (case, - _ .)."""
    name = re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_declared_dependency_is_pinned_in_the_lock() -> None:
    """CI installs requirements.lock, not pyproject: a dependency missing there breaks CI only."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pinned = {_name(line) for line in lines if line.strip() and not line.startswith("#")}
    assert declared - pinned == set(), "add these to requirements.lock (pinned, ==)"
