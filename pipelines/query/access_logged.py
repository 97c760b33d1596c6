"""Run an audit command so that it leaves its access event before anything reaches the reader.

Why here and not in each command: the order is the guarantee. `run_logged` checks the trail
first (`AccessTrail.prepare`: a read-only archive refuses the command before it reads), runs
the command into a buffer, appends the event (the error too, when the command failed), and only
then hands the output back for printing. `export` writes its production into a hidden staging
directory and moves it into place after its event (with the load file's hashes) is stored.

`sql` streams its answer (`run_logged_stream`): its output is held back as above while it is
shorter than `HOLD_CHARS` and its first rows are younger than `HOLD_SECONDS`, so an answer that
is done by then is printed after its one event, with its row count. A longer or slower answer
cannot wait for its count without holding it all (or keeping the reader waiting): its event is
stored with `status` "streaming" (rows unknown) before the first byte is printed, the rest is
written as DuckDB produces it, and a second event closes it (`started_key` names the first):
`ok` with the rows written, `failed` with the error and the rows written before it, or
`closed` when the reader stopped reading (`| head`) after at most that many rows.

Which archive is written to: the one the command read. For `sql`, `thread` and `export` that
is the archive the audit catalog's views read (ARCHIVE_URI, else the one the catalog
recorded, as `connection.connect` resolves it); for `prove` it is ARCHIVE_URI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from pipelines.archive.store import ObjectStore, open_store
from pipelines.governance.access_trail import AccessTrail, AccessTrailError
from pipelines.ringcentral.redaction import redact
from pipelines.settings import Settings

# Longest query text kept in an event (a pasted script of megabytes is cut, with its SHA-256).
MAX_QUERY_CHARS = 100_000
# A credential-looking assignment in query text (`RC_APP_CLIENT_SECRET=...`, `password: '...'`,
# in a comment or a literal): the name is kept, the value (4+ characters) is not stored.
CREDENTIAL_ASSIGNMENT = re.compile(
    r"(?i)\b([\w.-]*(?:secret|passw(?:or)?d|pwd|token|jwt|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credential)[\w.-]*\s*[:=]\s*)"
    r"(\"[^\"\n]{4,}\"|'[^'\n]{4,}'|[^\s'\",;)]{4,})"
)
# Output held back until the event is stored: an answer no longer than HOLD_CHARS characters
# and done within HOLD_SECONDS of its first rows gets one event with its row count; any other
# is streamed between two events (so its first rows reach the reader within about a second).
HOLD_CHARS = 1 << 20
HOLD_SECONDS = 1.0


def catalog_archive(audit_db: str, settings: Settings) -> ObjectStore:
    """The archive the catalog at `audit_db` reads (ARCHIVE_URI, else its recorded root),
    opened with `settings`."""
    import duckdb

    from pipelines.catalog.connection import catalog_info, resolve_archive_root

    path = Path(audit_db)
    conn = duckdb.connect(
        str(path),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        recorded_uri, recorded_relpath = catalog_info(conn, path)
    finally:
        conn.close()
    # must_exist: a missing archive is the connection's one-line error, never re-created here.
    root = resolve_archive_root(
        path, recorded_uri, recorded_relpath, settings.archive_uri, must_exist=True
    )
    return open_store(root, settings)


def query_fields(sql: str | None, params: Any = None, name: str | None = None) -> dict[str, Any]:
    """The query part of an event: text (cut beyond MAX_QUERY_CHARS, credential-looking
    assignments and the process's known secrets masked, `query_redacted` then true), the
    SHA-256 of the whole text as given, parameters.

    Text that does not parse as SQL is refused here, before any event is stored (one line,
    exit 2): it is no query, and the event would keep it verbatim (`sql -f` given a settings
    file by mistake would leave its secrets in the write-once trail)."""
    if sql is None:
        return {"query": None, "query_sha256": None, "parameters": params, "query_name": name}
    _check_parses(sql)
    kept = sql[:MAX_QUERY_CHARS]
    masked = CREDENTIAL_ASSIGNMENT.sub(lambda m: m.group(1) + "[REDACTED]", redact(kept))
    return {
        "query": masked,
        **({"query_redacted": True} if masked != kept else {}),
        "query_sha256": hashlib.sha256(sql.encode("utf-8")).hexdigest(),
        "query_truncated": len(sql) > MAX_QUERY_CHARS,
        "parameters": params,
        "query_name": name,
    }


def _check_parses(sql: str) -> None:
    """Raise NotReadOnlyQuery (one line) when `sql` is a syntax error to DuckDB's parser or
    holds no statement. SQL that parses but is refused (a write, a COPY, a PRAGMA of an
    extension not loaded) is an attempt: refused later, and recorded."""
    import duckdb

    from pipelines.query.formatting import NotReadOnlyQuery
    from pipelines.query.terminal_text import terminal_safe

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.ParserException as error:
        # DuckDB's first line (the token it stopped at) goes to the person's terminal only.
        reason = terminal_safe((str(error).strip().splitlines() or [""])[0])
        raise NotReadOnlyQuery(
            f"SQL does not parse: {reason}; nothing was run or recorded (is the file a query?)"
        ) from None
    except duckdb.Error:
        return  # parsed, but names what this connection lacks: the query's run refuses it
    if not statements:
        raise NotReadOnlyQuery("no SQL statement given; nothing was run or recorded")


def run_logged(
    trail: AccessTrail,
    command: str,
    details: Mapping[str, Any],
    work: Callable[[], tuple[str, Mapping[str, Any]]],
) -> str:
    """Run `work` (-> output text, outcome fields such as rows) with its access event stored
    first; the output is returned only after the event is written. A failure is recorded
    with its error (one line, secrets redacted) and raised again."""
    trail.prepare()
    try:
        output, outcome = work()
    except AccessTrailError:
        raise
    except BaseException as error:
        _record_failure(trail, command, details, error, None)
        raise
    trail.append({**details, "command": command, "status": "ok", "error": None, **outcome})
    return output


def run_logged_stream(
    trail: AccessTrail,
    command: str,
    details: Mapping[str, Any],
    pieces: Iterable[str],
    rows: Callable[[], int],
    out: TextIO,
) -> int:
    """Write `pieces` (the answer's text, produced lazily) to `out` with the access trail's
    guarantee (module docstring): nothing reaches `out` before an event naming the query is
    stored, and the rows written (`rows()`, read after each piece) are recorded. Returns the
    rows written. A failure is recorded and raised again; a reader that closed the output
    (BrokenPipeError) is recorded as `closed` and the error raised again for the CLI to end
    quietly."""
    trail.prepare()
    produce = iter(pieces)
    try:
        return _write_logged(trail, command, details, produce, rows, out)
    finally:
        close = getattr(produce, "close", None)
        if close is not None:
            close()  # a generator's own cleanup (the DuckDB connection) runs now


def _write_logged(
    trail: AccessTrail,
    command: str,
    details: Mapping[str, Any],
    produce: Iterator[str],
    rows: Callable[[], int],
    out: TextIO,
) -> int:
    held: list[str] = []
    size = 0
    complete = True
    first_rows: float | None = None
    try:
        for piece in produce:
            held.append(piece)
            size += len(piece)
            if first_rows is None and rows():
                first_rows = time.monotonic()
            late = first_rows is not None and time.monotonic() - first_rows > HOLD_SECONDS
            if size > HOLD_CHARS or late:
                complete = False
                break
    except BaseException as error:
        _record_failure(trail, command, details, error, None)
        raise
    if complete:
        trail.append({**details, "command": command, "status": "ok", "error": None, "rows": rows()})
        out.write("".join(held))
        out.flush()
        return rows()
    started = trail.append(
        {**details, "command": command, "status": "streaming", "error": None, "rows": None}
    )
    closing = {**details, "command": command, "started_key": started.key}
    try:
        out.write("".join(held))
        del held
        out.flush()
        for piece in produce:
            out.write(piece)
        out.flush()
    except BrokenPipeError:
        trail.append({**closing, "status": "closed", "error": None, "rows": rows()})
        raise
    except BaseException as error:
        _record_failure(trail, command, closing, error, rows())
        raise
    trail.append({**closing, "status": "ok", "error": None, "rows": rows()})
    return rows()


def _record_failure(
    trail: AccessTrail,
    command: str,
    details: Mapping[str, Any],
    error: BaseException,
    rows: int | None,
) -> None:
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    trail.append(
        {
            **details,
            "command": command,
            "status": "failed",
            "error": redact(f"{type(error).__name__}: {first}")[:2000],
            "rows": rows,
        }
    )


def logged_export(
    trail: AccessTrail,
    details: Mapping[str, Any],
    out_dir: str,
    produce: Callable[[Path], Any],
) -> Any:
    """`produce(staging_dir)` runs the export into a hidden staging directory; after the
    event (with every file's SHA-256 from the load file, and the load file's own) is stored,
    the production is moved to `out_dir`. Returns `produce`'s result."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"export directory {out} is not empty; choose a new directory so a production "
            "never mixes files from two exports"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging_root = out.parent / f".{out.name}.audited-{uuid.uuid4().hex[:12]}"
    staged = staging_root / "production"
    result: list[Any] = []

    def work() -> tuple[str, Mapping[str, Any]]:
        staging_root.mkdir()
        result.append(produce(staged))
        manifest_bytes = (staged / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        return "", {
            "rows": manifest.get("rows"),
            "export": {
                "out_dir": str(out.resolve()),
                "format": manifest.get("export_format"),
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                "files": [
                    {"path": f.get("path"), "sha256": f.get("sha256"), "bytes": f.get("bytes")}
                    for f in manifest.get("files", [])
                ],
                "query": manifest.get("query"),
            },
        }

    try:
        run_logged(trail, "export", details, work)
        try:
            os.replace(staged, out)
        except BaseException as error:
            # The event above holds what was produced; this one, that it never reached `out`
            # (e.g. another export filled the directory meanwhile): the outcome is a failure.
            _record_failure(trail, "export", details, error, None)
            raise
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return result[0]
