"""`rc-archive export --format kit`: one self-contained folder for a regulator's request, that an
examiner opens with plain DuckDB, with no login, no service and nothing that expires.

    data/contents.parquet      every archived version of each selected message (edits and
                               remote deletions included), with raw_json and record_sha256
    data/identities.parquet    every archived version of the identities those versions name
    data/agents.parquet        every archived version of the agents (extensions) that sent them
    data/attachments.parquet   the archived attachment rows of those messages, each with the
                               path of its bytes in the kit (`native`)
    attachments/<sha256><ext>  the attachment bytes, once per distinct file, checked against
                               their archived SHA-256 while they are copied
    kit.duckdb                 views over data/*.parquet (no copied rows) and the table kit_info
    verify_proof.py            the stand-alone proof verifier (Python standard library only)
    README.md                  for the examiner: what is where, how to open it, how hashes chain
    manifest.json              the load file: SHA-256 and size of every other file of the kit

Why views with relative paths: the kit is copied to whatever machine the examiner uses, so
kit.duckdb must not name the place it was written. The views read `data/<table>.parquet`,
which DuckDB resolves against the working directory, or against `file_search_path` when a
session sets it (DuckDB cannot take the directory of the database file itself: a table
function's argument may not be a subquery, so no macro can look the file's path up). The README
gives both ways to open it.

Why the selection, staging, load file and attachment copies are export.py's: a kit is one more
format of the same production (pipelines/query/export.py). Its messages are the ones `export`
selects; this module adds every version of them and writes the folder into the staging
directory `export` renames into place once the load file is written.
"""

from __future__ import annotations

import json
import mimetypes
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.catalog.connection import INTERNAL_SCHEMA, sql_literal
from pipelines.catalog.views import ATTACHMENTS, MESSAGES
from pipelines.query.attachment_files import ArchivedFile
from pipelines.query.export import attachment_entries, file_entry, selection_sql, write_native
from pipelines.query.selection import selection_condition
from schemas.tables import TABLES

KIT_FORMAT = "rc-archive/examiner-kit/1"
DATABASE = "kit.duckdb"
README = "README.md"
VERIFIER = "verify_proof.py"
NATIVES = "attachments"
# DuckDB 1.0 and every later release read this storage format (newer ones read older files).
STORAGE_VERSION = "v1.0.0"
ROWS_PER_BATCH = 10_000

# Every version of the selected messages: the export's exact selection (its messages), with the
# selection's condition on `contents` as well so DuckDB can prune the Parquet scan (the
# selector columns are the same in every version of a message).
_CONTENTS = """
SELECT * FROM contents
WHERE {clause}(source_id, id) IN (SELECT source_id, id FROM ({selected}))
ORDER BY creation_time, source_id, id, last_modified_time NULLS FIRST, archived_at, batch_id
"""

# Every archived version of the named records, once (a retried batch re-commits the same row).
_IDENTITIES = f"""
SELECT * FROM {INTERNAL_SCHEMA}._src_identities
WHERE id = ANY($ids::VARCHAR[])
QUALIFY row_number() OVER (
    PARTITION BY source_id, id, record_sha256 ORDER BY archived_at, batch_id) = 1
ORDER BY id, source_id, last_modified_time NULLS FIRST, archived_at, batch_id
"""
_AGENTS = f"""
SELECT * FROM {INTERNAL_SCHEMA}._src_agents
WHERE extension_id = ANY($ids::VARCHAR[])
QUALIFY row_number() OVER (
    PARTITION BY extension_id, record_sha256 ORDER BY archived_at, batch_id) = 1
ORDER BY extension_id, fetched_at NULLS FIRST, archived_at, batch_id
"""
_ATTACHMENTS = f"""
SELECT * FROM {INTERNAL_SCHEMA}._src_attachments
WHERE source_id = ANY($sources::VARCHAR[]) AND content_id = ANY($ids::VARCHAR[])
QUALIFY row_number() OVER (
    PARTITION BY source_id, content_id, id, record_sha256 ORDER BY archived_at, batch_id) = 1
ORDER BY source_id, content_id, id, archived_at, batch_id
"""

# The views of kit.duckdb, in creation order: name -> (body, comment). The newest-version rules
# are the audit catalog's (pipelines/catalog/views.py), so `messages` here answers as
# `messages` there for these messages; `messages` is the catalog's own SQL.
KIT_VIEWS: dict[str, tuple[str, str]] = {
    "contents": (
        "SELECT * FROM read_parquet('data/contents.parquet')",
        "Every archived version of each message in the kit, edits and remote deletions "
        "included; raw_json is the record as RingCentral returned it, record_sha256 its hash.",
    ),
    "contents_latest": (
        """
SELECT * FROM contents
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
""",
        "The newest archived version of each message.",
    ),
    "identities": (
        "SELECT * FROM read_parquet('data/identities.parquet')",
        "Every archived version of the identities (customer or agent accounts on a channel) "
        "the messages name as author or as the author replied to.",
    ),
    "identities_latest": (
        """
SELECT * FROM identities
QUALIFY row_number() OVER (
    PARTITION BY id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
""",
        "The newest archived version of each identity.",
    ),
    "agents": (
        """
SELECT * FROM read_parquet('data/agents.parquet')
QUALIFY row_number() OVER (
    PARTITION BY extension_id ORDER BY fetched_at DESC NULLS LAST, archived_at DESC, batch_id DESC
) = 1
""",
        "The newest archived version of each agent (RingCentral extension) that sent a message "
        "of the kit; every version is in data/agents.parquet.",
    ),
    "messages": (
        MESSAGES.format(latest="contents_latest"),
        "The newest version of each message, with its author's and agent's names.",
    ),
    "attachments": (
        ATTACHMENTS.format(rows="read_parquet('data/attachments.parquet')", extra=", a.native"),
        "The archived attachment files of the messages (newest row per message and "
        "attachment); native is the file in this folder holding the bytes, whose SHA-256 is "
        "sha256.",
    ),
}

# The built-in table only (no mime.types of the machine): the same name on every machine.
_MIME = mimetypes.MimeTypes(filenames=())
_EXTENSION = re.compile(r"\.[a-z0-9]{1,16}")


@dataclass(frozen=True)
class KitResult:
    """What `export` puts in the load file: every file of the kit, the thread count, the
    attachment entries, and the kit's counts (also in kit_info)."""

    files: list[dict[str, Any]]
    threads: int
    attachments: list[dict[str, Any]]
    counts: dict[str, int]


def native_name(sha256: str, filename: str | None, content_type: str | None) -> str:
    """`<sha256><ext>`: the extension of the listed file name when it is a plain one (letters
    and digits, lowercased), else the usual one of its declared type, else `.bin`. Names are
    hostile input; only the hash and a checked extension reach the file system."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if not _EXTENSION.fullmatch(suffix):
        guessed = _MIME.guess_extension((content_type or "").split(";")[0].strip().lower())
        suffix = guessed if guessed and _EXTENSION.fullmatch(guessed) else ".bin"
    return f"{sha256}{suffix}"


def verifier_path() -> Path:
    """The stand-alone verifier shipped inside the package (pipelines/integrity), found next to
    this module, never through the working directory."""
    path = Path(__file__).resolve().parents[1] / "integrity" / VERIFIER
    if not path.is_file():
        raise RuntimeError(f"the proof verifier {VERIFIER} is not installed with rc-archive")
    return path


def write_kit(
    out: Path,
    records: list[dict[str, Any]],
    conn: duckdb.DuckDBPyConnection,
    selectors: dict[str, Any],
    load_file: dict[str, Any],
    store: Any = None,
    add_files: Callable[[Path], object] | None = None,
) -> KitResult:
    """Write the examiner kit of `records` (the messages `export` selected by `selectors`:
    source, thread, identity, from_, to) into the empty directory `out`.

    `load_file` is what the load file says about the production (produced_at, archive, ledger
    heads, tool, filters, query; JSON-ready), stored in kit_info. `store` holds the attachment
    bytes. `add_files(out)` runs once after every other part is written and before the file list
    is taken, so the files a later step adds (e.g. a proof per version) are hashed into the load
    file like the rest."""
    (out / "data").mkdir(parents=True)
    rows: dict[str, int] = {}
    referenced = _write_contents(out, conn, selectors, rows)
    rows["data/identities.parquet"] = _write_query(
        conn,
        _IDENTITIES,
        {"ids": sorted(referenced["identities"])},
        out / "data/identities.parquet",
    )
    rows["data/agents.parquet"] = _write_query(
        conn, _AGENTS, {"ids": sorted(referenced["agents"])}, out / "data/agents.parquet"
    )
    natives = _write_attachments(out, conn, referenced["messages"], store, rows)
    for record in records:
        for entry in record["attachment_files"]:
            if entry["status"] == "archived":
                entry["native"] = natives.get(entry["sha256"])
    attachments = attachment_entries(records, {"fmt": "kit"})
    threads = len({(r["source_id"], r["thread_id"]) for r in records})
    counts = {
        "message_versions": rows["data/contents.parquet"],
        "messages": len(referenced["messages"]),
        "threads": threads,
        "identity_versions": rows["data/identities.parquet"],
        "agent_versions": rows["data/agents.parquet"],
        "attachment_rows": rows["data/attachments.parquet"],
        "attachment_files": len(natives),
        "attachments_missing": sum(a["status"] == "missing" for a in attachments),
    }
    shutil.copyfile(verifier_path(), out / VERIFIER)
    _write_database(out, _info_rows(load_file, counts))
    (out / README).write_text(readme_text(load_file, counts), encoding="utf-8")
    if add_files is not None:
        add_files(out)
    files = [
        file_entry(path, out, rows.get(path.relative_to(out).as_posix(), 0))
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    ]
    return KitResult(files=files, threads=threads, attachments=attachments, counts=counts)


def _write_contents(
    out: Path, conn: duckdb.DuckDBPyConnection, selectors: dict[str, Any], rows: dict[str, int]
) -> dict[str, set]:
    """data/contents.parquet; returns what its versions name: the messages (source, id), the
    identities (author, author replied to) and the agents (creator)."""
    selected, params = selection_sql(**selectors)
    condition = selection_condition(TABLES["contents"].hold, **selectors)  # type: ignore[arg-type]
    clause = condition[0] if condition else ""
    sql = _CONTENTS.format(clause=f"{clause} AND " if clause else "", selected=selected)
    referenced: dict[str, set] = {"messages": set(), "identities": set(), "agents": set()}

    def note(batch: pa.RecordBatch) -> None:
        def values(name: str) -> list:
            return batch.column(batch.schema.get_field_index(name)).to_pylist()

        referenced["messages"].update(zip(values("source_id"), values("id"), strict=True))
        for name in ("author_identity_id", "in_reply_to_author_identity_id"):
            referenced["identities"].update(v for v in values(name) if v is not None)
        referenced["agents"].update(v for v in values("creator_id") if v is not None)

    path = out / "data/contents.parquet"
    rows["data/contents.parquet"] = _write_query(conn, sql, params, path, note)
    return referenced


def _write_query(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    path: Path,
    note: Callable[[pa.RecordBatch], None] | None = None,
) -> int:
    """The query's rows as one Parquet file, batch by batch (a large selection stays flat in
    memory); `note` sees each batch. Returns the row count."""
    reader = conn.execute(sql, params).to_arrow_reader(ROWS_PER_BATCH)
    count = 0
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        for batch in reader:
            if note is not None:
                note(batch)
            writer.write_batch(batch)
            count += batch.num_rows
    return count


def _write_attachments(
    out: Path,
    conn: duckdb.DuckDBPyConnection,
    messages: set[tuple[str, str]],
    store: Any,
    rows: dict[str, int],
) -> dict[str, str]:
    """data/attachments.parquet (the archived rows of the messages' attachments, with their
    `native`) and each distinct file's bytes once under attachments/. Returns sha256 -> path."""
    params = {
        "sources": sorted({source for source, _ in messages}),
        "ids": sorted({content for _, content in messages}),
    }
    try:
        table = conn.execute(_ATTACHMENTS, params).to_arrow_table()
    except duckdb.CatalogException:
        raise RuntimeError(
            "the audit catalog predates the attachments table; rebuild it with `rc-archive catalog`"
        ) from None
    columns = table.to_pydict()
    keep = [
        (source, content) in messages
        for source, content in zip(columns["source_id"], columns["content_id"], strict=True)
    ]
    table = table.filter(pa.array(keep, pa.bool_()))
    natives: dict[str, str] = {}
    paths = []
    for row in table.to_pylist():
        sha256 = row["sha256"]
        if sha256 not in natives:
            natives[sha256] = (
                f"{NATIVES}/{native_name(sha256, row['filename'], row['content_type'])}"
            )
            file = ArchivedFile(sha256=sha256, size=row["size"], object_key=row["object_key"])
            write_native(out, natives[sha256], store, file)
        paths.append(natives[sha256])
    table = table.append_column("native", pa.array(paths, pa.string()))
    pq.write_table(table, out / "data/attachments.parquet", compression="zstd")
    rows["data/attachments.parquet"] = table.num_rows
    return natives


def _write_database(out: Path, info: list[tuple[str, str]]) -> None:
    """kit.duckdb: the views (relative paths, bound here against `out`) and kit_info."""
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        conn.execute(f"SET file_search_path = {sql_literal(str(out.resolve()))}")
        conn.execute(
            f"ATTACH {sql_literal(str(out / DATABASE))} AS kit "
            f"(STORAGE_VERSION {sql_literal(STORAGE_VERSION)})"
        )
        conn.execute("USE kit")
        for name, (body, comment) in KIT_VIEWS.items():
            conn.execute(f"CREATE VIEW {name} AS {body}")
            conn.execute(f"COMMENT ON VIEW {name} IS {sql_literal(comment)}")
        conn.execute("CREATE TABLE kit_info (name VARCHAR, value VARCHAR)")
        conn.executemany("INSERT INTO kit_info VALUES (?, ?)", info)
        conn.execute(
            "COMMENT ON TABLE kit_info IS 'What this kit is: where it was read from, what "
            "selected it, when and by which tool, and how many rows each part holds.'"
        )
        conn.execute("USE memory")
        conn.execute("DETACH kit")
    finally:
        conn.close()


def _info_rows(load_file: dict[str, Any], counts: dict[str, int]) -> list[tuple[str, str]]:
    """kit_info as (name, value) text pairs: one line each, readable with `FROM kit_info`."""
    archive = load_file.get("archive") or {}
    tool = load_file.get("tool") or {}
    query = load_file.get("query") or {}
    return [
        ("format", KIT_FORMAT),
        ("created_at", str(load_file.get("produced_at"))),
        ("tool", f"{tool.get('name')} {tool.get('version')}"),
        ("archive", str(archive.get("uri"))),
        ("catalog_built_at", str(archive.get("catalog_built_at"))),
        ("selection", json.dumps(load_file.get("filters"), ensure_ascii=False)),
        ("query", str(query.get("sql"))),
        ("query_parameters", json.dumps(query.get("parameters"), ensure_ascii=False)),
        ("ledger_heads", json.dumps(load_file.get("ledger_heads"), ensure_ascii=False)),
        *((name, str(value)) for name, value in counts.items()),
        (
            "how_to_open",
            "run DuckDB in this folder, or SET file_search_path = '<this folder>' first "
            "(README.md)",
        ),
    ]


def readme_text(load_file: dict[str, Any], counts: dict[str, int]) -> str:
    """The examiner's README: what the folder is, what each part holds, how to open it, example
    queries, how the hashes chain, and how the proofs are checked."""
    archive = (load_file.get("archive") or {}).get("uri")
    tool = load_file.get("tool") or {}
    filters = {k: v for k, v in (load_file.get("filters") or {}).items() if v is not None}
    selection = json.dumps(filters, ensure_ascii=False) if filters else "every archived message"
    return _README.format(
        created_at=load_file.get("produced_at"),
        archive=archive,
        tool=f"{tool.get('name')} {tool.get('version')}",
        selection=selection,
        **counts,
    )


_README = """\
# Examiner kit

This folder holds archived RingCentral messages, copied out of a compliance archive for one
request. It is complete in itself: it needs no login, no network and no service, and nothing
in it expires. Open it with DuckDB (https://duckdb.org, version 1.0 or later), from its
command line or from Python.

- Produced: {created_at}, by `{tool}`
- From the archive at: `{archive}`
- Selection: `{selection}`
- Messages: {messages} in {threads} thread(s), as {message_versions} archived versions (a
  message edited or deleted on the channel has one row per version the archive saw)
- Identities: {identity_versions} versions; agents: {agent_versions} versions
- Attachments: {attachment_rows} rows, {attachment_files} distinct files;
  {attachments_missing} listed by a message but not archived (named in `manifest.json`)

## What is where

- `kit.duckdb`: a DuckDB database of views over `data/` (it holds no message rows itself)
  and the table `kit_info`.
- `data/contents.parquet`: every archived version of each message, with `raw_json` (the
  record exactly as RingCentral returned it) and `record_sha256`.
- `data/identities.parquet`: every archived version of the identities (customer or agent
  accounts on a channel) the messages name.
- `data/agents.parquet`: every archived version of the agents (RingCentral extensions) that
  sent the messages.
- `data/attachments.parquet`: the archived attachment rows of the messages, with `native`,
  the file holding the bytes.
- `attachments/<sha256>.<ext>`: the attachment bytes, named by their SHA-256 (each distinct
  file once).
- `proofs/`: the inclusion proof of each message version, the cosigned checkpoints they lead
  to, and (`proofs/certificates/`) the signed certificates given to the export (see "Proofs").
- `verify_proof.py`: the proof verifier (Python 3 standard library only).
- `manifest.json`: the load file: SHA-256 and size of every other file, the selection's SQL,
  the archive and its ledger heads.

The Parquet files can be read by any Parquet reader; the views only name them.

## Opening it

The views read `data/*.parquet` by relative path, which DuckDB resolves against the directory
it runs in. Either run DuckDB inside this folder:

```sh
cd kit && duckdb -readonly kit.duckdb
```

or, from any other directory, tell DuckDB where the folder is before the first query:

```sql
-- duckdb -readonly path/to/kit/kit.duckdb
SET file_search_path = 'path/to/kit';
```

From Python (`pip install duckdb`):

```python
import duckdb

con = duckdb.connect("path/to/kit/kit.duckdb", read_only=True,
                     config={{"file_search_path": "path/to/kit"}})
print(con.sql("FROM kit_info"))
```

Opening read-only leaves `kit.duckdb` byte for byte as produced, so its hash in
`manifest.json` stays checkable. Times are stored in UTC; `SET TimeZone = 'UTC';` shows them so.

## The views

- `contents`: every archived version of each message (edits and remote deletions included).
- `contents_latest`: the newest version of each message.
- `messages`: the newest version of each message with its author's and agent's names (the
  archive's own `messages` view, over this folder).
- `identities`, `identities_latest`: every version, and the newest, of each identity.
- `agents`: the newest version of each agent.
- `attachments`: the archived attachment files, newest row per message and attachment, with
  `sha256` and `native` (the file in `attachments/`).
- `kit_info`: where and when the kit was made, by what selection, with how many rows.

`DESCRIBE messages;` lists a view's columns; `SELECT view_name, comment FROM duckdb_views()
WHERE NOT internal;` says what each view holds.

## Example queries

```sql
-- The conversations, in order
SELECT creation_time, thread_id, direction, author_name, agent_name, body
FROM messages ORDER BY thread_id, creation_time;

-- Every version of the messages that changed (edits, remote deletions)
SELECT id, last_modified_time, status, remotely_deleted, body, record_sha256
FROM contents
WHERE id IN (SELECT id FROM contents GROUP BY id HAVING count(*) > 1)
ORDER BY id, last_modified_time NULLS FIRST, archived_at;

-- A message exactly as RingCentral returned it
SELECT raw_json FROM contents WHERE id = '...';

-- Who wrote what
SELECT i.display_name, i.identity_type, count(*) AS messages
FROM messages m JOIN identities_latest i ON i.id = m.author_identity_id
GROUP BY ALL ORDER BY messages DESC;

-- Attachments and their files
SELECT content_id, filename, content_type, size, sha256, native FROM attachments;
```

## How the hashes chain

- Each attachment file is named by the SHA-256 of its bytes, which is the `sha256` of its row:
  `sha256sum attachments/*` checks them.
- Each message version carries `record_sha256`, the hash the archive gave that version when
  it archived it; the proofs below prove each one is in the archive's signed log.
- `manifest.json` lists every other file of this folder (data, attachments, `kit.duckdb`,
  README, proofs, verifier) with its SHA-256 and size: a changed, added or missing file shows.
- The archive recorded the SHA-256 of `manifest.json` itself in its write-once access trail
  when it produced this kit, and `manifest.json` names the archive's ledger heads (the newest
  hash-chained manifest of each stream) the kit was read from.

## Proofs

`proofs/` holds one c2sp.org/tlog-proof per message version in `data/contents.parquet`: the
version's hash, its place in the archive's Merkle log, and the log's signed checkpoint with the
witnesses' cosignatures (also in `proofs/checkpoints/`); `proofs/certificates/` holds the
archive's signed monthly certificates, when the export was given them. Check the whole
folder offline (Python 3, nothing else installed):

```sh
python verify_proof.py . --log-key LOG.vkey --witness-key WITNESS.vkey
```

with the log's and the witnesses' verifier keys, obtained from the archive's operator and from
the witnesses by a channel other than this folder (a key found inside the folder proves
nothing). It recomputes each version's hash from the record as RingCentral served it, checks
each proof and signature, and checks the SHA-256 of every file `manifest.json` lists; it prints
one line per failure and a last line starting with OK or FAILED.
"""
