"""Run an audit command so that it leaves its access event before anything reaches the reader.

Why here and not in each command: the order is the guarantee. `run_audited` checks the trail
first (`AccessTrail.prepare`: a read-only archive refuses the command before it reads), runs
the command into a buffer, appends the event (the error too, when the command failed), and only
then hands the output back for printing. `export` writes its production into a hidden staging
directory and moves it into place after its event (with the load file's hashes) is stored.

Which archive is written to: the one the command read. For `sql`, `thread` and `export` that
is the archive the audit catalog's views read (ARCHIVE_URI, else the one the catalog
recorded, as `connection.connect` resolves it); for `prove` it is ARCHIVE_URI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipelines.archive.store import ObjectStore, open_store
from pipelines.governance.access_trail import AccessTrail, AccessTrailError
from pipelines.ringcentral.redaction import redact

# Longest query text kept in an event (a pasted script of megabytes is cut, with its SHA-256).
MAX_QUERY_CHARS = 100_000


def catalog_archive(audit_db: str, env: Mapping[str, str]) -> ObjectStore:
    """The archive the catalog at `audit_db` reads (ARCHIVE_URI, else its recorded root)."""
    import duckdb

    from pipelines.audit.connection import _catalog_info, resolve_archive_root

    path = Path(audit_db)
    conn = duckdb.connect(
        str(path),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        recorded_uri, recorded_relpath = _catalog_info(conn, path)
    finally:
        conn.close()
    # must_exist: a missing archive is the connection's one-line error, never re-created here.
    root = resolve_archive_root(path, recorded_uri, recorded_relpath, env, must_exist=True)
    return open_store(root, dict(env))


def query_fields(sql: str | None, params: Any = None, name: str | None = None) -> dict[str, Any]:
    """The query part of an event: text (cut beyond MAX_QUERY_CHARS), its SHA-256, parameters."""
    if sql is None:
        return {"query": None, "query_sha256": None, "parameters": params, "query_name": name}
    return {
        "query": sql[:MAX_QUERY_CHARS],
        "query_sha256": hashlib.sha256(sql.encode("utf-8")).hexdigest(),
        "query_truncated": len(sql) > MAX_QUERY_CHARS,
        "parameters": params,
        "query_name": name,
    }


def run_audited(
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
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        trail.append(
            {
                **details,
                "command": command,
                "status": "failed",
                "error": redact(f"{type(error).__name__}: {first}")[:2000],
                "rows": None,
            }
        )
        raise
    trail.append({**details, "command": command, "status": "ok", "error": None, **outcome})
    return output


def audited_export(
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
        run_audited(trail, "export", details, work)
        os.replace(staged, out)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return result[0]
