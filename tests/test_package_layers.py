"""The import direction between the top-level packages, read from the source with `ast`.

Why a test: the layers are what let each part be tested alone (the library without Dagster,
the schemas without the library). A reversed import compiles and runs, so only a check over
the imports keeps the map in docs/internals.md true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Which top-level packages each package may import (itself always). The command-line entry
# points in pipelines/ sit above everything: `rc-archive run` starts the Dagster runner.
ALLOWED = {
    "schemas": set(),
    "pipelines": {"schemas"},
    "assets": {"pipelines", "schemas"},
}
ENTRY_POINTS = {"pipelines/cli.py", "pipelines/demo.py", "pipelines/devserver.py"}
PROJECT_PACKAGES = {"schemas", "pipelines", "assets", "sandbox", "benchmarks", "tests"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PROJECT_PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_below(package: str) -> None:
    wrong: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in ENTRY_POINTS:
            continue
        for other in sorted(_imported_packages(path) - ALLOWED[package] - {package}):
            wrong.append(f"{relative} imports {other}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_check_sees_a_reversed_import(tmp_path: Path) -> None:
    module = tmp_path / "reversed.py"
    module.write_text("from assets.runner import run_sources\nimport pipelines.cli\n")
    assert _imported_packages(module) == {"assets", "pipelines"}


def test_tests_share_helpers_through_support_modules_and_fixtures() -> None:
    """A test module imported by another runs its tests twice and couples unrelated files:
    shared helpers live in `support.py` modules, shared set-ups in fixtures."""
    wrong: list[str] = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                last = node.module.split(".")[-1]
                if node.module.startswith("tests.") and (
                    last.startswith("test_") or last == "conftest"
                ):
                    wrong.append(f"{path.relative_to(ROOT).as_posix()} imports {node.module}")
    assert not wrong, "\n".join(wrong)
