"""The settings are read once: nothing in `pipelines/` takes an environment or reads one.

Why a test: `Settings.from_env` is the one parsing of the settings (pipelines/settings.py). A
library function that takes an `env` mapping, or reads `os.environ`, parses them again, and
two parsings are how two parts ended up with different S3 keys, lock settings or timeouts (or
read the process environment where the caller meant other values). The callers (the CLI's
`Context`, `assets/definitions.py`, the Dagster resources) parse once and hand the library a
`Settings`, or the part of it a function needs (`S3Access`, `NetworkTimeouts`, a user name).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIPELINES = REPO / "pipelines"

# Functions that may take an `env` mapping: the constructors that parse one, and the helper
# they share. (No function of `pipelines/` starts a child process, which would be the other
# reason to take an environment.)
ENV_PARAMETER_ALLOWED = {
    ("pipelines/settings.py", "from_env"): "Settings, NetworkTimeouts and S3Access parse it",
    ("pipelines/settings.py", "text_setting"): "the free-text reading the from_env share",
    ("pipelines/ringcentral/config.py", "from_env"): "ClientSettings parses the credentials",
}

# Modules that may read the process environment, and why.
ENVIRON_ALLOWED = {
    "pipelines/process_memory.py": (
        "tunes the process's own allocators (MALLOC_ARENA_MAX, ARROW_DEFAULT_MEMORY_POOL) "
        "before they start, and must see whether the operator already set them: variables of "
        "the C and Arrow runtimes, not settings of rc-archive"
    ),
}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(REPO).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PIPELINES.rglob("*.py"))
    ]


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = function.args
    named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return [argument.arg for argument in named]


def env_parameters() -> list[str]:
    """`module:line function` of every function of `pipelines/` with a parameter `env` that
    is not allowed."""
    found = []
    for module, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if "env" in _parameters(node) and (module, node.name) not in ENV_PARAMETER_ALLOWED:
                found.append(f"{module}:{node.lineno} {node.name}")
    return found


def environment_reads() -> list[str]:
    """`module:line` of every read of the process environment (`os.environ`, `os.getenv`,
    `from os import environ`) in `pipelines/` outside settings.py and the allowed modules."""
    found = []
    for module, tree in _modules():
        if module == "pipelines/settings.py" or module in ENVIRON_ALLOWED:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in ("environ", "environb", "getenv", "getenvb")
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in ("environ", "getenv") for alias in node.names)
            ):
                found.append(f"{module}:{node.lineno}")
    return found


def test_no_library_function_takes_an_environment():
    assert env_parameters() == []


def test_no_library_module_reads_the_process_environment():
    assert environment_reads() == []


def test_the_checks_find_what_they_look_for(monkeypatch):
    """Both checks report a planted offender (so an empty answer means something)."""
    monkeypatch.setattr(
        f"{__name__}._modules",
        lambda: [
            (
                "pipelines/_planted.py",
                ast.parse(
                    "import os\n"
                    "def open_it(uri, env):\n"
                    "    return os.environ.get('ARCHIVE_URI') or os.getenv('AUDIT_DB')\n"
                ),
            )
        ],
    )
    assert env_parameters() == ["pipelines/_planted.py:2 open_it"]
    assert environment_reads() == ["pipelines/_planted.py:3", "pipelines/_planted.py:3"]


def test_the_allowed_exceptions_still_exist():
    """An exception listed for a function or module that is gone is removed from the lists."""
    modules = dict(_modules())
    for module, function in ENV_PARAMETER_ALLOWED:
        names = {
            node.name
            for node in ast.walk(modules[module])
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and "env" in _parameters(node)
        }
        assert function in names, (module, function)
    for module in ENVIRON_ALLOWED:
        assert module in modules, module
