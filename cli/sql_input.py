"""Which SQL `rc-archive sql` runs, and with which bound parameters.

Exactly one of: the argument (`-` reads stdin), `-f FILE`, or `--query NAME` from the audit
query pack, whose `$name` parameters are checked here so a missing one is named, not left to
DuckDB's message. `--param VALUE` binds $1, $2...; `--param NAME=VALUE` binds $NAME; values
are always bound, never formatted into the text.
"""

from __future__ import annotations

import argparse
import re
import sys

from cli.errors import UsageError

Params = list[str] | dict[str, str]


def sql_and_params(args: argparse.Namespace) -> tuple[str, Params]:
    """The SQL text and parameters the parsed `sql` arguments ask for."""
    given = [x for x in (args.sql, args.file, args.query_name) if x is not None]
    if len(given) != 1:
        raise UsageError(
            "give one query: SQL text (or - for stdin), -f FILE or --query NAME "
            "(--list-queries shows the names)"
        )
    params = _parse_params(args.param)
    if args.query_name is not None:
        return _named_query(args.query_name, params)
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                return handle.read(), params
        except OSError as error:
            raise UsageError(f"-f {args.file!r}: {error.strerror or error}") from None
    if args.sql == "-":
        return sys.stdin.read(), params
    return args.sql, params


def list_queries() -> str:
    """The query pack's names, each with the --param options it takes."""
    from pipelines.query.queries import QUERY_PACK

    width = max(len(name) for name in QUERY_PACK)
    lines = []
    for name in sorted(QUERY_PACK):
        wanted = " ".join(f"--param {p}=..." for p in _query_params(QUERY_PACK[name]))
        lines.append(f"{name.ljust(width)}  {wanted}".rstrip())
    return "\n".join(lines)


def _named_query(name: str, params: Params) -> tuple[str, dict[str, str]]:
    from pipelines.query.queries import QUERY_PACK

    if name not in QUERY_PACK:
        raise UsageError(f"unknown query {name!r}; valid names: {', '.join(sorted(QUERY_PACK))}")
    sql = QUERY_PACK[name]
    wanted = _query_params(sql)
    if isinstance(params, list):
        if params:
            raise UsageError(f"query {name} takes named parameters: --param NAME=VALUE")
        params = {}
    missing = [p for p in wanted if p not in params]
    unknown = sorted(set(params) - set(wanted))
    if missing or unknown:
        need = " ".join(f"--param {p}=..." for p in wanted) or "no parameters"
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UsageError(f"query {name}: {problem}; it takes {need}")
    return sql, params


def _query_params(sql: str) -> list[str]:
    """The $name parameters of a query, in order of first use."""
    return list(dict.fromkeys(re.findall(r"\$([A-Za-z_]\w*)", sql)))


def _parse_params(raw: list[str] | None) -> Params:
    """`--param value` binds $1, $2...; `--param name=value` binds $name (never formatted in)."""
    raw = raw or []
    if raw and all("=" in p and p.split("=", 1)[0].isidentifier() for p in raw):
        return dict(p.split("=", 1) for p in raw)
    return list(raw)
