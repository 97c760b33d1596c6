"""`rc-archive console` (the web console, docs/console.md) and `rc-archive users add|disable|
list` (who may sign in to it).

The console reads ARCHIVE_URI / AUDIT_DB like every audit command and serves the pages of
`console/` with uvicorn; the users file is CONSOLE_USERS_FILE (default `console-users.json`
beside AUDIT_DB). Passwords are asked on the terminal (twice, not echoed) or read from stdin
with --password-stdin; they are never an argument (a command line is visible to other users of
the machine and kept in shell history). The console package is imported inside each handler
(it loads Starlette, DuckDB and pyarrow).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.arguments import add_output_format
from cli.command import Command, CommandGroup, Subcommand
from cli.context import Context
from cli.errors import EXIT_OK, UsageError
from cli.output import log_to_stderr, render_rows

USERS_HEADER = ["user", "role", "status", "created", "disabled"]
ROLE_CHOICES = ("reviewer", "auditor", "admin")

# -- console ------------------------------------------------------------------------------------


def _console_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8780, help="port to listen on (8780)")


def _console(ctx: Context, args: argparse.Namespace) -> int:
    from console.app import create_app, serve
    from console.users import UsersFile

    audit_db = ctx.require_audit_db()
    users_file = ctx.settings.console_users_file
    if not any(user.enabled for user in UsersFile(users_file).users()):
        raise UsageError(
            f"no enabled console user in {users_file}: add one first with "
            "`rc-archive users add NAME --role admin` (or set CONSOLE_USERS_FILE)"
        )
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: expected 1-65535")
    app = create_app(ctx.settings, users_file)
    store = app.app.state.console.store  # type: ignore[attr-defined]
    # Sign-ins, refusals and failures, one line each (names and addresses, never a password).
    log_to_stderr("console", "%(asctime)s %(message)s")
    print(
        f"console on http://{args.host}:{args.port}/ for {store.describe()} (catalog "
        f"{audit_db}, users {users_file}); Ctrl-C stops",
        flush=True,
    )
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            "  serve it to others only behind an https reverse proxy (docs/console.md): the "
            "session cookie is marked Secure only over https",
            flush=True,
        )
    serve(app, args.host, args.port)
    return EXIT_OK


CONSOLE = Command(
    name="console",
    help="Serve the web console for reviewers, auditors and administrators.",
    example="rc-archive console --host 127.0.0.1 --port 8780",
    add_arguments=_console_arguments,
    run=_console,
)

# -- users --------------------------------------------------------------------------------------


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the user's name (as the access trail will show it)")
    parser.add_argument("--role", required=True, choices=ROLE_CHOICES, help="what they may do")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking on the terminal",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask the password on: pipe it with --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    second = getpass.getpass("again: ")
    if first != second:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def _add(ctx: Context, args: argparse.Namespace) -> int:
    from console.users import UsersFile, check_name, check_role

    check_name(args.name)
    check_role(args.role)
    path = ctx.settings.console_users_file
    user = UsersFile(path).add(args.name, args.role, _password(args))
    print(f"added {user.name} ({user.role}) to {path}")
    return EXIT_OK


def _name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the user's name")


def _disable(ctx: Context, args: argparse.Namespace) -> int:
    from console.users import UsersFile

    path = ctx.settings.console_users_file
    user = UsersFile(path).disable(args.name)
    print(f"disabled {user.name} ({user.role}) in {path}; their sessions end at their next request")
    return EXIT_OK


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from console.users import UsersFile

    rows = [
        (u.name, u.role, "enabled" if u.enabled else "disabled", u.created_at, u.disabled_at)
        for u in UsersFile(ctx.settings.console_users_file).users()
    ]
    print(render_rows(USERS_HEADER, rows, args.format))
    return EXIT_OK


USERS = CommandGroup(
    name="users",
    help="Add, disable or list the web console's users.",
    example="rc-archive users add alice@example.com --role reviewer\n  "
    "rc-archive users disable alice@example.com\n  rc-archive users list",
    subcommands=(
        Subcommand(
            name="add",
            help="add a user (asks the password twice, or --password-stdin)",
            add_arguments=_add_arguments,
            run=_add,
        ),
        Subcommand(
            name="disable",
            help="disable a user (kept in the file, cannot sign in)",
            add_arguments=_name_argument,
            run=_disable,
        ),
        Subcommand(
            name="list",
            help="every user with role and status",
            add_arguments=add_output_format,
            run=_list,
        ),
    ),
)

COMMANDS = (CONSOLE, USERS)
