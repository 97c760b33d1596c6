"""The import order of the packages and of `pipelines/`' subpackages, read from the source
with `ast` (imports inside functions included).

Why a test: the layers are what let each part be tested alone (the library without Dagster,
the schemas without the library, the write side without the catalog). A reversed import
compiles and runs, and an import moved inside a function to dodge a cycle hides it from
anyone reading the top of the file, so only a check over every import keeps the map in
docs/internals.md true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Which top-level packages each package may import (itself always).
ALLOWED = {
    "schemas": set(),
    "pipelines": {"schemas"},
    "assets": {"pipelines", "schemas"},
    # The web console (`rc-archive console`) serves the library's answers; `cli` starts it.
    "console": {"pipelines", "schemas"},
    # `cli` also starts the sandbox API (`make demo`, `make dev`), which imports nothing else.
    "cli": {"assets", "console", "pipelines", "schemas", "sandbox"},
}
PROJECT_PACKAGES = {
    "schemas",
    "pipelines",
    "assets",
    "console",
    "cli",
    "sandbox",
    "benchmarks",
    "tests",
}

# `pipelines/`, bottom to top: a module may import its own subpackage and those listed before
# it. The write side (API client, archive, integrity, governance, the syncs) never reads the
# catalog; the catalog builds audit.duckdb from what the writers committed; `query` answers
# from the catalog; `tables` (Iceberg) publishes both. Modules directly in `pipelines/` are
# the runtime everyone shares (settings, interrupts, progress, memory, charts, server thread).
PIPELINES_ORDER = [
    "",
    "ringcentral",
    "archive",
    "integrity",
    "governance",
    "webhooks",
    "sync",
    "attachments",
    "catalog",
    "query",
    "tables",
]


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every absolute import in the file, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _imported_packages(path: Path) -> set[str]:
    return {module.split(".")[0] for module, _ in _imports(path)} & PROJECT_PACKAGES


def _subpackage(module: str) -> str:
    """`pipelines.archive.store` -> `archive`; `pipelines.settings` and `pipelines` -> ``."""
    parts = module.split(".")
    if len(parts) >= 3:
        return parts[1]
    if len(parts) == 2 and (ROOT / "pipelines" / parts[1]).is_dir():
        return parts[1]
    return ""


def _pipelines_targets(module: str, names: list[str]) -> list[str]:
    """The modules an import reaches: `from pipelines.archive import keys` reaches
    `pipelines.archive.keys`; `from pipelines import settings` reaches `pipelines.settings`."""
    package = ROOT.joinpath(*module.split("."))
    if names and (package / "__init__.py").exists():
        return [
            f"{module}.{name}"
            for name in names
            if (package / f"{name}.py").exists() or (package / name).is_dir()
        ] or [module]
    return [module]


def _layer_problems(path: Path) -> list[str]:
    relative = path.relative_to(ROOT).as_posix()
    own = _subpackage(".".join(Path(relative).with_suffix("").parts))
    rank = PIPELINES_ORDER.index(own)
    wrong = []
    for module, names in _imports(path):
        if module.split(".")[0] != "pipelines":
            continue
        for target in _pipelines_targets(module, names):
            other = _subpackage(target)
            if other != own and PIPELINES_ORDER.index(other) > rank:
                wrong.append(f"{relative} ({own or 'pipelines'}) imports {target}")
    return wrong


def _private_problems(path: Path) -> list[str]:
    """A private name (`_x`) imported from another subpackage or top-level package."""
    relative = path.relative_to(ROOT).as_posix()
    module_name = ".".join(Path(relative).with_suffix("").parts)
    own_top = module_name.split(".")[0]
    wrong = []
    for module, names in _imports(path):
        top = module.split(".")[0]
        if top not in PROJECT_PACKAGES:
            continue
        same = top == own_top and (
            top != "pipelines" or _subpackage(module) == _subpackage(module_name)
        )
        for name in names:
            if name.startswith("_") and not name.startswith("__") and not same:
                wrong.append(f"{relative} imports {module}.{name}")
    return wrong


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_below(package: str) -> None:
    wrong: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for other in sorted(_imported_packages(path) - ALLOWED[package] - {package}):
            wrong.append(f"{relative} imports {other}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_pipelines_subpackages_import_only_those_below() -> None:
    assert {p.name for p in (ROOT / "pipelines").iterdir() if (p / "__init__.py").exists()} == set(
        PIPELINES_ORDER[1:]
    ), "a new subpackage of pipelines/ needs its place in PIPELINES_ORDER"
    wrong = [
        p for path in sorted((ROOT / "pipelines").rglob("*.py")) for p in _layer_problems(path)
    ]
    assert not wrong, "imports against the order of pipelines/:\n" + "\n".join(wrong)


def test_no_private_name_crosses_a_package() -> None:
    wrong = [
        problem
        for package in sorted(ALLOWED)
        for path in sorted((ROOT / package).rglob("*.py"))
        for problem in _private_problems(path)
    ]
    assert not wrong, "private names imported across packages:\n" + "\n".join(wrong)


def test_the_checks_see_reversed_lazy_and_private_imports(tmp_path: Path) -> None:
    module = tmp_path / "reversed.py"
    module.write_text("from assets.runner import run_sources\nimport cli.main\n")
    assert _imported_packages(module) == {"assets", "cli"}
    archive = ROOT / "pipelines" / "archive" / "_layer_probe_test.py"
    archive.write_text(
        "def f():\n    from pipelines.governance.retention import load_retention\n"
        "    from pipelines.catalog.connection import _private\n"
    )
    try:
        probe = "pipelines/archive/_layer_probe_test.py (archive) imports"
        assert _layer_problems(archive) == [
            f"{probe} pipelines.governance.retention",
            f"{probe} pipelines.catalog.connection",
        ]
        assert _private_problems(archive) == [
            "pipelines/archive/_layer_probe_test.py imports pipelines.catalog.connection._private"
        ]
    finally:
        archive.unlink()


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
