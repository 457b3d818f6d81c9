"""What `./scripts/run` installs is enough to run PlaceCode: every module the package
imports comes from its own dependencies (or theirs), not only from the test tools', which
the test command installs too and so would hide the gap (`placecode simulate` once
imported httpx, a test tool then, and the main command failed on a fresh clone)."""

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def installed_with_placecode() -> set[str]:
    """The distributions `pip install .` brings: the dependencies, theirs, and so on."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(line) for line in project["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        for line in metadata.requires(requirement.name) or []:
            wanted = Requirement(line)
            extras = {"", *requirement.extras}
            if wanted.marker is None or any(
                wanted.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(wanted)
    return names


def imported_by_placecode() -> dict[str, Path]:
    """Each top-level module the package imports (outside the standard library), with a
    file that imports it."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / "placecode").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".", 1)[0]
                if top != "placecode" and top not in sys.stdlib_module_names:
                    found.setdefault(top, path.relative_to(ROOT))
    return found


def test_everything_the_package_imports_is_installed_with_it() -> None:
    installed = installed_with_placecode()
    providers = metadata.packages_distributions()
    missing = {
        module: str(path)
        for module, path in imported_by_placecode().items()
        if not {canonicalize_name(d) for d in providers.get(module, [])} & installed
    }
    assert missing == {}, "imported, but not among the dependencies in pyproject.toml"


def test_the_check_sees_a_test_tool() -> None:
    """The check itself: pytest is installed here, but not with PlaceCode."""
    assert "pytest" not in installed_with_placecode()
    assert canonicalize_name(metadata.packages_distributions()["pytest"][0]) == "pytest"
