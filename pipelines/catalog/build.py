"""Build `audit.duckdb`: views over exactly the files the ledger says are committed.

The file lists are written into the views (`read_parquet([...])`), never a glob: an orphan
file from an interrupted write, or one dropped in by hand, can never reach an auditor. The
catalog is a snapshot of the ledger at build time; rebuild it after each run (the Dagster
`audit_catalog` asset does). It is rebuilt into a temporary file and swapped in with
`os.replace`, so a reader never sees a half-built catalog.

The build also specialises the views to the snapshot (see views.py): it reads the files without
union_by_name when they share one schema, and stores small key-only tables (superseded
versions, each thread's files) that the views and `thread_transcript` use instead of per-query
windows and scans of every file.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectStore
from pipelines.archive.version_aliases import ALIASES_SCHEMA, read_aliases
from pipelines.catalog.archive_root import archive_root_uri, open_archive
from pipelines.catalog.column_docs import COLUMN_DOCS, VIEW_DOCS
from pipelines.catalog.connection import (
    ARCHIVE_ROOT_MACRO,
    ARCHIVE_ROOT_VARIABLE,
    CATALOG_INFO_TABLE,
    DEFAULT_AUDIT_DB,
    INTERNAL_SCHEMA,
    archive_root_macro_sql,
    configure_s3,
)
from pipelines.catalog.governance_tables import (
    GovernanceState,
    previous_governance,
    refresh_governance,
    write_governance_tables,
)
from pipelines.catalog.state import (
    LEDGER_SCHEMA,
    LEDGER_SNAPSHOT_TABLE,
    LIVE_FILES_TABLE,
    CatalogState,
    previous_state,
    refresh_state,
)
from pipelines.catalog.thread_files import (
    THREAD_FILES_TABLE,
    previous_thread_files,
    write_thread_files,
)
from pipelines.catalog.views import (
    BUILD_TABLES,
    CONTENTS_DUPLICATE_KEYS,
    CONTENTS_IN_FILES,
    CONTENTS_KEY_COUNTS,
    CONTENTS_KEYS_BETWEEN,
    FLAGS_KEPT,
    FLAGS_KEPT_ALL,
    FLAGS_NAMED,
    FLAGS_ROWS,
    FLAGS_TABLE,
    KEY_COUNTS_TABLE,
    MESSAGES,
    MESSAGES_BETWEEN,
    TRANSPORT_REPEATS,
    VIEW_BODIES,
    contents_body,
    latest_body,
)
from pipelines.settings import Settings
from schemas.tables import TABLES, table_schema

log = logging.getLogger(__name__)

# DuckDB's budget for a build, tried in order: its aggregations over every committed row spill
# to disk beyond it, so the run's memory does not grow with the archive (unbounded, a build over
# 1M contents added ~400 MB to the process). One thread, because each thread needs its own
# share of the budget; a larger budget is tried only if DuckDB cannot finish within one.
BUILD_MEMORY_LIMITS = ("64MB", "256MB", "1GB")


@dataclass(frozen=True)
class CatalogReport:
    """What a build produced: for the run log and the Dagster asset's metadata."""

    audit_db: str
    archive_uri: str
    manifests: int
    files_per_table: dict[str, int]
    rows_per_table: dict[str, int]
    # Manifests this build read from the store (all of them on a first build; the new ones
    # on a refresh).
    manifests_read: int = 0
    views: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # How the views were specialised for this snapshot (see views.py): tables read without
    # union_by_name, and whether `contents` is the plain scan (no version committed twice).
    uniform_schema_tables: list[str] = field(default_factory=list)
    contents_plain_scan: bool = False
    # Contents files read for internal._contents_thread_files (thread_files.py): every live one
    # on a first build, the ones committed since on a refresh.
    thread_files_read: int = 0


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_column_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, DuckDB type) for an Arrow schema, as DuckDB itself maps it."""
    relation = duckdb.connect().from_arrow(schema.empty_table())
    return [(name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)]


def empty_relation_sql(schema: pa.Schema) -> str:
    """A typed, row-less SELECT: the view of a table with no committed file yet."""
    columns = ", ".join(
        f"CAST(NULL AS {kind}) AS {_quote_ident(name)}"
        for name, kind in duckdb_column_types(schema)
    )
    return f"SELECT {columns} WHERE false"


def uri_list_sql(file_uris: list[str]) -> str:
    """A SQL list of the URIs. DuckDB expands glob characters even inside a list, so a key
    holding one is refused: the views must read exactly the committed files."""
    for uri in file_uris:
        if any(char in uri for char in "*?[]{}"):
            raise ValueError(f"committed file {uri!r} has a glob character; refusing to read it")
    return "[" + ", ".join(_quote_literal(uri) for uri in file_uris) + "]"


def read_parquet_sql(
    keys_sql: str, union_by_name: bool = True, *, root_sql: str | None = None
) -> str:
    """read_parquet over the committed files whose keys (relative to the archive root) the SQL
    list `keys_sql` holds: a literal list (`uri_list_sql`) or a macro's parameter. The root
    (`root_sql`, a constant SQL expression) is prefixed when a query binds it; see
    `files_relation_sql`."""
    # The files hold their partition values as columns; reading them from the paths as well
    # (hive_partitioning, auto-detected by default) breaks when compacted month files
    # (creation_month=) sit beside day files (creation_date=), and prunes nothing statistics
    # do not prune already.
    options = ", hive_partitioning = false"
    options += ", union_by_name = true" if union_by_name else ""
    prefix = root_sql or f"coalesce(getvariable('{ARCHIVE_ROOT_VARIABLE}'), '')"
    return f"read_parquet(list_transform({keys_sql}, k -> {prefix} || k){options})"


def files_relation_sql(
    file_keys: list[str], union_by_name: bool = True, *, root_sql: str | None = None
) -> str:
    """read_parquet over an explicit list of committed files, as keys relative to the archive
    root: the root (`root_sql`, a constant SQL expression) is prefixed when a query binds the
    view. The catalog passes the persisted macro `rc_archive_root()` (the variable `connect`
    sets, else the root recorded at build time), so the catalog follows its archive when it
    moves and a plain DuckDB client reads it from any directory (see connection.py). Without
    `root_sql` the prefix is the variable, if set, else nothing (absolute paths are read as
    they are). The prefix and `list_transform` fold to a constant list when the view binds, so
    DuckDB reads exactly these files, as from a literal list.

    union_by_name makes DuckDB read every file's schema each time a query binds the view
    (~250 ms per query for 900 files), so the build turns it off once it has checked that all
    the files share one schema (`files_share_one_schema`)."""
    reader = read_parquet_sql(uri_list_sql(file_keys), union_by_name, root_sql=root_sql)
    return f"SELECT * FROM {reader}"


def files_share_one_schema(conn: duckdb.DuckDBPyConnection, file_uris: list[str]) -> bool:
    """Whether every file has exactly the same Parquet schema (names, order, physical and
    logical types, nullability), the condition under which reading them without
    union_by_name gives the same columns and values."""
    if len(file_uris) < 2:
        return True
    row = conn.execute(
        f"""
        SELECT count(DISTINCT fingerprint) FROM (
            SELECT string_agg(
                concat_ws(chr(31), name, type, type_length, repetition_type, num_children,
                          converted_type, scale, precision, field_id, logical_type,
                          duckdb_type),
                chr(30) ORDER BY column_id) AS fingerprint
            FROM parquet_schema({uri_list_sql(file_uris)})
            GROUP BY file_name)
        """
    ).fetchone()
    return row is not None and row[0] == 1


def build_catalog(
    store_or_uri: Any,
    audit_db_path: str | os.PathLike[str] | None,
    settings: Settings,
) -> CatalogReport:
    """(Re)build the audit catalog of the archive at `store_or_uri` (None: ARCHIVE_URI of
    `settings`) into `audit_db_path` (None: its AUDIT_DB); an S3 archive is read with
    `settings.s3` and `settings.network`."""
    started = time.perf_counter()
    store = open_archive(store_or_uri, settings)
    root_uri = archive_root_uri(store)
    target = Path(audit_db_path or settings.audit_db or DEFAULT_AUDIT_DB)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A local archive is recorded also relative to the catalog's directory, so that a catalog
    # copied or moved together with its archive finds the copy (connection.resolve_archive_root).
    root_relpath = None
    if "://" not in root_uri:
        root_uri = os.path.abspath(root_uri)
        root_relpath = os.path.relpath(root_uri, target.resolve().parent)

    state = refresh_state(store, previous_state(target, root_uri))
    governance = refresh_governance(store, previous_governance(target, root_uri))
    thread_files = previous_thread_files(target, root_uri)
    files = state.files_by_table()
    rows_per_table = {table: 0 for table in TABLES} | state.rows_by_table()

    for attempt, memory_limit in enumerate(BUILD_MEMORY_LIMITS, start=1):
        temp = target.with_name(f".{target.name}.building-{uuid.uuid4().hex[:8]}")
        try:
            uniform_tables, contents_plain, scanned = _build_into(
                temp,
                memory_limit,
                root_uri,
                root_relpath,
                store,
                state,
                settings,
                governance,
                thread_files,
            )
            os.replace(temp, target)
            break
        except duckdb.OutOfMemoryException:
            if attempt == len(BUILD_MEMORY_LIMITS):
                raise
            log.warning(
                "the audit catalog build needed more than %s of memory; retrying with %s",
                memory_limit,
                BUILD_MEMORY_LIMITS[attempt],
            )
        finally:
            for leftover in (temp, temp.with_name(temp.name + ".wal")):
                leftover.unlink(missing_ok=True)

    return CatalogReport(
        audit_db=str(target),
        archive_uri=root_uri,
        manifests=state.manifests,
        manifests_read=state.manifests_read,
        files_per_table={table: len(files.get(table, [])) for table in TABLES},
        rows_per_table=rows_per_table,
        views=list(VIEW_BODIES),
        seconds=time.perf_counter() - started,
        uniform_schema_tables=uniform_tables,
        contents_plain_scan=contents_plain,
        thread_files_read=scanned,
    )


def _build_into(
    temp: Path,
    memory_limit: str,
    root_uri: str,
    root_relpath: str | None,
    store: ObjectStore,
    state: CatalogState,
    settings: Settings,
    governance: GovernanceState,
    thread_files: pa.Table | None,
) -> tuple[list[str], bool, int]:
    """One build attempt into `temp`, with DuckDB held to `memory_limit` on one thread;
    `thread_files` is the previous catalog's thread_files table (thread_files.py)."""
    files = state.files_by_table()
    conn = duckdb.connect(
        str(temp),
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        conn.execute("SET TimeZone='UTC'")
        # The schema check, the view binds and the build tables read the same footers.
        conn.execute("SET parquet_metadata_cache=true")
        conn.execute(f"SET memory_limit='{memory_limit}'")
        conn.execute("SET threads=1")
        conn.execute("SET preserve_insertion_order=false")
        if root_uri.startswith("s3://"):
            configure_s3(conn, settings.s3, settings.network)
        # The views read the root through this persisted macro (no variable is set here, so the
        # build binds them as a plain client that opens the file will).
        conn.execute(archive_root_macro_sql(root_uri))
        conn.execute(f"CREATE SCHEMA {INTERNAL_SCHEMA}")
        write_governance_tables(conn, governance)  # access_log and holds read them
        uniform_tables, contents_plain, scanned = _create_views(
            conn, store, files, state, thread_files
        )
        conn.execute(
            f"CREATE TABLE {CATALOG_INFO_TABLE} AS SELECT ? AS archive_uri, "
            "? AS archive_relpath, "
            "?::TIMESTAMPTZ AS built_at, ? AS manifests, ? AS files_per_table_json",
            [
                root_uri,
                root_relpath,
                datetime.now(UTC),
                state.manifests,
                json.dumps({t: len(keys) for t, keys in files.items()}, sort_keys=True),
            ],
        )
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return uniform_tables, contents_plain, scanned


def _create_views(
    conn: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    files: dict[str, list[str]],
    state: CatalogState,
    thread_files: pa.Table | None,
) -> tuple[list[str], bool, int]:
    """Create the views; returns (tables read without union_by_name, contents is plain,
    contents files the thread_files table read)."""
    uniform_tables = []
    for table in TABLES:
        keys = files.get(table, [])
        uris = [store.uri_for(key) for key in keys]
        source = f"{INTERNAL_SCHEMA}._src_{table}"
        if not uris:
            _create_view(conn, source, empty_relation_sql(table_schema(table).arrow_schema))
            continue
        try:
            uniform = files_share_one_schema(conn, uris)
        except duckdb.Error:
            uniform = False  # unreadable file: let the view's bind below report it clearly
        if uniform:
            uniform_tables.append(table)
        relation = files_relation_sql(
            keys, union_by_name=not uniform, root_sql=f"{ARCHIVE_ROOT_MACRO}()"
        )
        _create_view(conn, source, relation)
    ledger_rows = state.ledger_table(LEDGER_SCHEMA)  # noqa: F841 (DuckDB's replacement scan)
    conn.execute(f"CREATE TABLE {LEDGER_SNAPSHOT_TABLE} AS SELECT * FROM ledger_rows")
    live_rows = state.live_table()  # noqa: F841 (read by DuckDB's replacement scan)
    conn.execute(f"CREATE TABLE {LIVE_FILES_TABLE} AS SELECT * FROM live_rows")
    conn.execute(f"CREATE TABLE {INTERNAL_SCHEMA}.{KEY_COUNTS_TABLE} AS {CONTENTS_KEY_COUNTS}")
    duplicates = conn.execute(CONTENTS_DUPLICATE_KEYS).fetchone()
    has_duplicates = duplicates is None or duplicates[0] > 0
    has_repeats = _create_transport_repeats(conn, store, state)
    contents_plain = not has_duplicates and not has_repeats
    contents_union = "contents" not in uniform_tables
    _create_contents_in_files(conn, has_duplicates, has_repeats, contents_union)
    scanned = write_thread_files(
        conn,
        thread_files,
        files.get("contents", []),
        lambda keys: read_parquet_sql(
            uri_list_sql(keys), contents_union, root_sql=f"{ARCHIVE_ROOT_MACRO}()"
        ),
    )
    has_superseded = True  # set with the build tables, which `contents` precedes
    for name, body in VIEW_BODIES.items():
        if name == "contents":
            _create_view(conn, name, contents_body(has_duplicates, has_repeats))
            for table_name, select in BUILD_TABLES.items():
                conn.execute(f"CREATE TABLE {INTERNAL_SCHEMA}.{table_name} AS {select}")
            has_superseded = _has_rows(conn, "_contents_superseded")
        elif name == "contents_latest":
            _create_view(conn, name, latest_body("contents", has_superseded))
        elif name == "flags":
            _materialise_flags(conn, contents_plain)
            _create_view(conn, name, body)
        else:
            _create_view(conn, name, body)
    _create_period_macros(conn, has_superseded)
    _write_column_docs(conn)
    return uniform_tables, contents_plain, scanned


def _materialise_flags(conn: duckdb.DuckDBPyConnection, contents_plain: bool) -> None:
    """views.FLAGS_TABLE: the flags still held, with their message's channel, direction and
    names. Why materialised: joining every flag with `contents` and `messages` scans every
    contents file twice (0.7 s at 1M contents), and the review queue asks for its newest rows
    on every page; the build pays it once, one scan each, with the flags as every join's build
    side (the single-statement join needed more than the build's 64 MB). When `contents` is the
    plain scan of its files (no duplicate, no transport repeat) and the ledger holds no
    disposition, every flag's version is held and the first scan is skipped."""
    disposed = conn.execute(
        f"SELECT count(*) FROM {LEDGER_SNAPSHOT_TABLE} WHERE kind = 'disposition'"
    ).fetchone()[0]
    steps = {
        "_flags_kept": FLAGS_KEPT_ALL if contents_plain and not disposed else FLAGS_KEPT,
        "_flags_named": FLAGS_NAMED,
    }
    for table_name, select in steps.items():
        conn.execute(f"CREATE TABLE {INTERNAL_SCHEMA}.{table_name} AS {select}")
    conn.execute(f"CREATE TABLE {FLAGS_TABLE} AS {FLAGS_ROWS}")
    for table_name in steps:
        conn.execute(f"DROP TABLE {INTERNAL_SCHEMA}.{table_name}")


def _has_rows(conn: duckdb.DuckDBPyConnection, internal_table: str) -> bool:
    found = conn.execute(f"SELECT count(*) FROM {INTERNAL_SCHEMA}.{internal_table}").fetchone()
    return bool(found and found[0])


def _epoch_day(day: Any) -> str:
    return "NULL" if day is None else str((day - date(1970, 1, 1)).days)


def _create_period_macros(conn: duckdb.DuckDBPyConnection, superseded: bool) -> None:
    """views.CONTENTS_KEYS_BETWEEN (the live contents files whose rows' creation_date range,
    from the thread_files table, meets [d_from, d_to]; a file with no creation_date always)
    and views.MESSAGES_BETWEEN (`messages` over those files). The bounds are written as two
    integer lists (days since 1970) beside the key list: DuckDB folds them at each call in
    tens of milliseconds (a list of structs took ten times longer). The first file is read
    always, so the list is never empty (read_parquet needs one file; the question's filters
    drop its rows)."""
    bounds = conn.execute(
        f"SELECT key, min(first_date), max(last_date) FROM {THREAD_FILES_TABLE} "
        "GROUP BY key ORDER BY key"
    ).fetchall()
    keys = uri_list_sql([key for key, _, _ in bounds])
    los = "[" + ", ".join(_epoch_day(lo) for _, lo, _ in bounds) + "]"
    his = "[" + ", ".join(_epoch_day(hi) for _, _, hi in bounds) + "]"
    epoch = "DATE '1970-01-01'"
    conn.execute(
        f"CREATE MACRO {CONTENTS_KEYS_BETWEEN}(d_from, d_to) AS "
        f"list_where(CAST({keys} AS VARCHAR[]), list_transform(list_zip({los}, {his}), "
        f"lambda b: coalesce(b[1] <= d_to - {epoch} AND b[2] >= d_from - {epoch}, true)))"
    )
    if bounds:
        first = _quote_literal(bounds[0][0])
        files = f"list_distinct(list_concat({CONTENTS_KEYS_BETWEEN}(d_from, d_to), [{first}]))"
        latest = f"({latest_body(f'{CONTENTS_IN_FILES}({files})', superseded)})"
    else:  # no contents file: the view reads the empty relation
        latest = "contents_latest"
    conn.execute(
        f"CREATE MACRO {MESSAGES_BETWEEN}(d_from, d_to) AS TABLE {MESSAGES.format(latest=latest)}"
    )


def _create_contents_in_files(
    conn: duckdb.DuckDBPyConnection, duplicates: bool, repeats: bool, union_by_name: bool
) -> None:
    """The table macro views.CONTENTS_IN_FILES: `contents` over the files named by its `keys`.
    Read with the view's options; when the files' schemas differ, the subset is read with
    every column of the table's schema as well, so a thread whose files predate a column
    still has it (NULL), as in the view."""
    reader = read_parquet_sql("keys", union_by_name, root_sql=f"{ARCHIVE_ROOT_MACRO}()")
    if union_by_name:
        typed = empty_relation_sql(table_schema("contents").arrow_schema)
        relation = f"({typed} UNION ALL BY NAME SELECT * FROM {reader})"
    else:
        relation = reader
    body = contents_body(duplicates, repeats, relation)
    conn.execute(f"CREATE MACRO {CONTENTS_IN_FILES}(keys) AS TABLE {body}")


def _create_transport_repeats(
    conn: duckdb.DuckDBPyConnection, store: ObjectStore, state: CatalogState
) -> bool:
    """`internal._contents_transport_repeats` (views.TRANSPORT_REPEATS); whether it has rows.

    What it reads: each contents stream's version aliases (pipelines/archive/version_aliases.py):
    the object its head manifest names (known from the ledger snapshot; one GET); a stream not
    yet upgraded by a run has its aliases computed from its live files' raw records, until its
    next commit names them."""
    ledger = Ledger(store)
    heads = conn.execute(
        f"""SELECT stream, arg_max(version_identity_json, seq), max(seq)
        FROM {LEDGER_SNAPSHOT_TABLE} WHERE table_name = 'contents' GROUP BY stream
        ORDER BY stream"""
    ).fetchall()
    parts = []
    for stream, entry, _seq in heads:
        if entry is not None:
            named = json.loads(entry).get("aliases")
            aliases = None if not named else read_aliases(store.get(named["key"]))
        else:  # committed before version identities, not upgraded by a run yet
            aliases = ledger.version_aliases("contents", stream)
        if aliases is not None and aliases.num_rows:
            parts.append(aliases)
    version_aliases = pa.concat_tables(parts) if parts else ALIASES_SCHEMA.empty_table()  # noqa: F841 (DuckDB's replacement scan)
    conn.execute(
        f"CREATE TABLE {INTERNAL_SCHEMA}._contents_transport_repeats AS {TRANSPORT_REPEATS}"
    )
    found = conn.execute(
        f"SELECT count(*) FROM {INTERNAL_SCHEMA}._contents_transport_repeats"
    ).fetchone()
    return bool(found and found[0])


def _write_column_docs(conn: duckdb.DuckDBPyConnection) -> None:
    """Each public view's description and its columns' (column_docs.py), as DuckDB comments:
    `duckdb_columns()` and `duckdb_views()` show them in any client, and `rc-archive sql
    --describe VIEW` prints them. A column the views lack is refused here, so a stale
    description cannot be written."""
    for view, description in VIEW_DOCS.items():
        conn.execute(f"COMMENT ON VIEW {_quote_ident(view)} IS {_quote_literal(description)}")
    for view, columns in COLUMN_DOCS.items():
        for column, description in columns.items():
            conn.execute(
                f"COMMENT ON COLUMN {_quote_ident(view)}.{_quote_ident(column)} "
                f"IS {_quote_literal(description)}"
            )


def _create_view(conn: duckdb.DuckDBPyConnection, name: str, body: str) -> None:
    """CREATE VIEW binds the query, so a committed file that is missing fails here, not later."""
    try:
        conn.execute(f"CREATE VIEW {name} AS {body}")
    except duckdb.OutOfMemoryException:
        raise  # not a file problem: the build retries with a larger budget
    except duckdb.Error as exc:
        raise RuntimeError(
            f"audit view {name!r} could not be created over the committed files "
            f"({type(exc).__name__}: {str(exc)[:300]}); run `rc-archive verify` to check "
            "that every committed file is present and readable"
        ) from None
