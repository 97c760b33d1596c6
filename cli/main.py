"""`rc-archive`: the parser built from every group's commands, and one invocation of it.

Settings come from the environment and from `--env-file PATH` (the sandbox's file works as it
is; values in the file win over the environment, since naming a file is the more explicit
choice). Errors end the command with ONE line on stderr that names the cause and the setting
to fix, with the exit code of its kind (cli/errors.py); `--verbose` adds the full detail
(tracebacks, Dagster's step log). Waits before retries are announced on stderr
("RingCentral API unreachable (ConnectError), retry 2/5 in 4 s").
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from cli import (
    archive_commands,
    console_commands,
    governance_commands,
    hold_commands,
    integrity_commands,
    query_commands,
    review_commands,
    run_command,
    webhook_commands,
    witness_commands,
)
from cli.command import Command, CommandGroup
from cli.context import Context
from cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    classify,
)
from cli.output import log_to_stderr
from pipelines import settings as names
from pipelines.ringcentral.redaction import redact

# Every command, by group. A new group's module is added here; a new command only to its
# group's COMMANDS.
GROUPS = (
    run_command,
    archive_commands,
    query_commands,
    integrity_commands,
    webhook_commands,
    hold_commands,
    review_commands,
    governance_commands,
    witness_commands,
    console_commands,
)
# The order `rc-archive --help` lists the commands in (what a person reaches for first); a
# command not named here follows them, in its group's order.
HELP_ORDER = (
    "run",
    "sources",
    "sql",
    "thread",
    "search",
    "export",
    "verify",
    "keygen",
    "attest",
    "prove",
    "catalog",
    "tables",
    "compact",
    "checkpoint",
    "receive",
    "subscribe",
    "hold",
    "review",
    "disposition",
    "access",
    "reconcile",
    "console",
    "users",
)
VERBOSE_HELP = "full detail on errors (tracebacks) and Dagster's step-by-step log"
ENV_FILE_HELP = "KEY=value settings file (its values win over the environment)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run `rc-archive` with `argv` (sys.argv[1:] when None); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    verbose = bool(getattr(args, "verbose", False))
    # The client's retry announcements on stderr, so a wait is never a silent terminal.
    log_to_stderr("pipelines.ringcentral.retry", "  %(message)s")
    try:
        _apply_env_file(args.env_file)
        return handler(Context(os.environ), args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`rc-archive thread ... | head`): what it read was complete.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        code, reason = classify(error, os.environ)
        if verbose:
            print(redact(traceback.format_exc()).rstrip(), file=sys.stderr)
        print(f"rc-archive {args.command}: {redact(reason)}", file=sys.stderr)
        return code


def commands() -> list[Command | CommandGroup]:
    """Every command of every group, in HELP_ORDER."""
    declared = [command for group in GROUPS for command in group.COMMANDS]
    rank = {name: position for position, name in enumerate(HELP_ORDER)}
    return sorted(declared, key=lambda command: rank.get(command.name, len(rank)))


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of `rc-archive`, every command and subcommand with its handler."""
    parser = _Parser(
        prog="rc-archive",
        description="Compliance archive for RingCentral Social Messaging.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rc-archive {_version()}")
    parser.add_argument("--verbose", "-v", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("--env-file", metavar="PATH", help=ENV_FILE_HELP)
    # Both also accepted after every command and subcommand (`rc-archive hold --env-file F
    # place ...`, `... hold place --env-file F`): SUPPRESS keeps a level that was not given
    # them from resetting what an outer level was given.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS, help=ENV_FILE_HELP)
    common.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    sub = parser.add_subparsers(
        dest="command", help="the command; `rc-archive COMMAND --help` shows its options"
    )
    for command in commands():
        command_parser = sub.add_parser(
            command.name,
            parents=[common],
            help=command.help,
            description=command.help,
            epilog=f"example:\n  {command.example}\n\n{EXIT_CODES_HELP}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if isinstance(command, Command):
            command.add_arguments(command_parser)
            command_parser.set_defaults(handler=command.run)
            continue
        actions = command_parser.add_subparsers(
            dest=f"{command.name}_action", required=True, help="what to do"
        )
        for action in command.subcommands:
            action_parser = actions.add_parser(action.name, parents=[common], help=action.help)
            action.add_arguments(action_parser)
            action_parser.set_defaults(handler=action.run)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse that answers a mistyped command, subcommand or choice with the nearest valid
    one ("did you mean 'hold'?"), still as a usage error (exit 2)."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            nearest = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            if nearest:
                raise argparse.ArgumentError(
                    action,
                    f"invalid choice: {value!r}; did you mean {nearest[0]!r}? "
                    f"(choose from {', '.join(choices)})",
                )
        super()._check_value(action, value)


def _apply_env_file(path: str | None) -> None:
    """The file's KEY=value settings over the process environment (for the libraries that
    read it themselves, such as boto3)."""
    if not path:
        return
    if not os.path.exists(path):
        raise UsageError(f"--env-file {path!r} does not exist")
    os.environ.update(names.load_env_file(path))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rc-archive")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
