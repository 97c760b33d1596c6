"""The shape of `cli/`: every command declared once, listed in `--help`, its handler fed by the
invocation's Context (never the process environment), and the parser cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from cli.command import Command, CommandGroup
from cli.main import GROUPS, HELP_ORDER, build_parser, commands

CLI = Path(__file__).resolve().parents[2] / "cli"


def test_every_command_is_declared_once_and_help_order_names_only_commands():
    names = [command.name for group in GROUPS for command in group.COMMANDS]
    assert len(names) == len(set(names))
    assert set(HELP_ORDER) <= set(names)
    assert [command.name for command in commands()][: len(HELP_ORDER)] == list(HELP_ORDER)


def test_the_parser_has_one_handler_per_command_and_subcommand():
    parser = build_parser()
    for command in commands():
        if isinstance(command, Command):
            args = parser.parse_args([command.name, *_required(command.name)])
            assert args.handler is command.run
            continue
        assert isinstance(command, CommandGroup)
        for action in command.subcommands:
            argv = [command.name, action.name, *_required(f"{command.name} {action.name}")]
            assert parser.parse_args(argv).handler is action.run


def _required(path: str) -> list[str]:
    """The least arguments each command needs to parse."""
    return {
        "thread": ["t"],
        "search": ["x"],
        "export": ["--out", "o"],
        "keygen": ["--out", "k"],
        "attest": ["--period", "2026-11", "--key", "k", "--out", "o"],
        "prove": ["c", "--certificate", "c.json"],
        "reconcile": ["--source", "s"],
        "disposition": ["--as-of", "2026-01-01", "--retention", "r.yaml"],
        "hold place": ["--matter", "m", "--reason", "r"],
        "hold release": ["--matter", "m", "--reason", "r"],
        "review decide": ["f", "--decision", "cleared", "--note", "n"],
        "review sample": ["--checkpoint", "c", "--rate", "0.1"],
        "cosign": ["--key", "k"],
        "witness keygen": ["--name", "w", "--out", "k"],
        "witness serve": ["--key", "k", "--state", "s", "--log", "v"],
        "users add": ["u", "--role", "admin"],
        "users disable": ["u"],
    }.get(path, [])


def test_no_command_module_reads_the_process_environment():
    """Handlers read `ctx.env` and `ctx.settings`: only `cli/main.py` (which applies
    --env-file) and the demo scripts touch os.environ."""
    readers = []
    for path in sorted(CLI.glob("*.py")):
        if path.name in ("main.py", "demo.py", "devserver.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.append(f"{path.name}:{node.lineno}")
    assert readers == []


def test_importing_the_command_line_loads_no_heavy_library():
    """`--help`, a typo or `keygen` answer at once: the libraries are imported by handlers."""
    probe = (
        "import sys, cli.main; "
        "print(sorted(m for m in ('duckdb', 'pandas', 'pyarrow', 'dagster', 'boto3') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
