"""How a command is declared: its name, help, example, arguments and handler in one value.

`cli.main` builds the argparse parser from the groups' `COMMANDS` lists: each `Command`
becomes `rc-archive NAME` (its help, its example and the exit codes in `--help`), each
`CommandGroup` becomes `rc-archive NAME ACTION` with one `Subcommand` per action. A handler
gets the invocation's `Context` and the parsed arguments and returns the exit code; an error
it raises is turned into the exit code and its one line by `cli.errors.classify`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from cli.context import Context

Handler = Callable[[Context, argparse.Namespace], int]
ArgumentAdder = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes only the options every command takes (--env-file, -v)."""


@dataclass(frozen=True)
class Command:
    """`rc-archive NAME`: `example` is shown under "example:" in its --help."""

    name: str
    help: str
    example: str
    run: Handler
    add_arguments: ArgumentAdder = no_arguments


@dataclass(frozen=True)
class Subcommand:
    """`rc-archive GROUP NAME`: an action of a `CommandGroup`."""

    name: str
    help: str
    run: Handler
    add_arguments: ArgumentAdder = no_arguments


@dataclass(frozen=True)
class CommandGroup:
    """`rc-archive NAME ACTION ...`: one of `subcommands` is required."""

    name: str
    help: str
    example: str
    subcommands: tuple[Subcommand, ...]
