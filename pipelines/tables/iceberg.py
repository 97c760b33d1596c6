"""Iceberg tables of the committed state, built from the ledger with pyiceberg.

Why: a raw reader of the archive (a glob over `contents/**/*.parquet`) sees crash leftovers and
both a compaction's inputs and its output. Iceberg tables list exactly the committed, live
files, so Spark, Trino, DuckDB, Snowflake or pyiceberg read the committed state without knowing
the ledger.

How (docs/tables.md): a SQL catalog (SQLite next to the audit DB by default, named after it:
`audit.duckdb` -> `audit.iceberg.db`) holds one pointer per table to its current metadata
file; table metadata lives under `<archive root>/_iceberg/`.
Data files are registered where they are (`add_files`' way: the Parquet footer gives the
statistics, nothing is rewritten), so the archive stays write-once. Every manifest of a stream
is applied in seq order: a batch manifest adds the files it committed, a compaction manifest
deletes its inputs and adds its output. One refresh is one Iceberg snapshot per table, and the
last seq applied per (ledger, stream) is a table property written in the same commit, so a
refresh reads only the manifests after it. A first build starts from each stream's live files
(checkpoint + tail), not from the full history. A lost catalog is rebuilt from the ledger.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from pipelines import settings
from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.parquet import SCHEMAS
from pipelines.archive.store import ObjectStore
from pipelines.catalog.archive_root import archive_root_uri
from schemas.tables import BATCH_TABLES, TABLES

log = logging.getLogger(__name__)

NAMESPACE = "rc_archive"
CATALOG_NAME = "rc_archive"
CATALOG_URI_ENV = settings.ARCHIVE_ICEBERG_CATALOG_URI
# The default SQLite catalog: `<audit DB stem>.iceberg.db` beside the audit DB, so two archives
# whose audit DBs share a folder have a catalog each. Releases before named it `iceberg.db` (one
# per folder); an archive whose tables that file holds keeps it (`default_catalog_file`).
CATALOG_SUFFIX = ".iceberg.db"
LEGACY_CATALOG_FILE = "iceberg.db"
# Table metadata (metadata JSON, manifest lists, manifests) under the archive root.
METADATA_PREFIX = keys.ICEBERG_ROOT
# Table property per ledger stream: the last manifest seq applied to the table.
POSITION_PROPERTY = "rc-archive.applied-seq"
NAME_MAPPING_PROPERTY = "schema.name-mapping.default"


def ledgers_of(table: str) -> tuple[str, ...]:
    """The ledger tables whose manifests commit files of data table `table`."""
    return tuple(ledger for ledger, held in BATCH_TABLES.items() if table in held)


def position_key(ledger_table: str, stream: str) -> str:
    return f"{POSITION_PROPERTY}.{ledger_table}.{stream}"


@dataclass(frozen=True)
class TablesConfig:
    """Where the catalog and the tables are: enough for any reader to open them."""

    catalog_uri: str
    warehouse: str  # the archive root (a directory or s3://bucket/prefix)
    io_properties: dict[str, str] = field(default_factory=dict)
    # The timeouts of the Glue and REST catalogs' clients (the S3 file IO's are properties).
    timeouts: settings.NetworkTimeouts = settings.NetworkTimeouts()

    @property
    def catalog_type(self) -> str:
        """`glue` (AWS Glue Data Catalog, `glue://`), `rest` (an Iceberg REST catalog,
        `http(s)://...`) or `sql` (SQLAlchemy URI; SQLite beside the audit DB by default)."""
        if self.catalog_uri.startswith("glue://"):
            return "glue"
        if self.catalog_uri.startswith(("http://", "https://")):
            return "rest"
        return "sql"

    def catalog_properties(self) -> dict[str, str]:
        """pyiceberg's `load_catalog` properties of this catalog (S3 file IO included)."""
        props = {"type": self.catalog_type, "warehouse": self.warehouse, **self.io_properties}
        if self.catalog_type == "glue":
            # Glue is reached like S3: the same region, endpoint (S3-compatible test servers)
            # and static keys when set, else the AWS credential chain.
            for s3_key, glue_key in (
                ("s3.region", "glue.region"),
                ("s3.endpoint", "glue.endpoint"),
                ("s3.access-key-id", "glue.access-key-id"),
                ("s3.secret-access-key", "glue.secret-access-key"),
                ("s3.session-token", "glue.session-token"),
            ):
                if s3_key in self.io_properties:
                    props[glue_key] = self.io_properties[s3_key]
        else:
            props["uri"] = self.catalog_uri
        return props

    def table_location(self, table: str) -> str:
        return f"{self.warehouse.rstrip('/')}/{METADATA_PREFIX}/{table}"


def tables_config(
    store: ObjectStore, audit_db_path: str | os.PathLike[str], archive_settings: settings.Settings
) -> TablesConfig:
    """Catalog URI from ARCHIVE_ICEBERG_CATALOG_URI (default: SQLite beside the audit DB,
    `default_catalog_file`), warehouse = the archive root, S3 settings for pyiceberg's file IO
    from `archive_settings.s3` and `.network`."""
    root = archive_root_uri(store)
    uri = archive_settings.iceberg_catalog_uri
    if not uri:
        audit_db = Path(os.path.abspath(os.fspath(audit_db_path)))
        uri = f"sqlite:///{default_catalog_file(audit_db, root)}"
    io: dict[str, str] = {}
    timeouts = archive_settings.network
    if root.startswith("s3://"):
        s3 = archive_settings.s3
        if s3.endpoint_url:
            io["s3.endpoint"] = s3.endpoint_url
        if s3.static_keys:
            io["s3.access-key-id"] = s3.access_key_id or ""
            io["s3.secret-access-key"] = s3.secret_access_key or ""
            if s3.session_token:
                io["s3.session-token"] = s3.session_token
        io["s3.region"] = s3.region or "us-east-1"
        # pyarrow's S3 client: the timeouts of every client (RC_ARCHIVE_CONNECT_TIMEOUT and
        # _READ_TIMEOUT, docs/deploy.md); its request timeout is a wait for bytes, and it makes
        # 3 tries, so an endpoint that never answers fails a refresh within 3 read timeouts.
        io["s3.connect-timeout"] = f"{timeouts.connect:g}"
        io["s3.request-timeout"] = f"{timeouts.read:g}"
        io["py-io-impl"] = "pyiceberg.io.pyarrow.PyArrowFileIO"
        lock_mode = getattr(store, "object_lock_mode", None)
        if lock_mode:
            # Table metadata is written like every archive object: locked (locked_io.py).
            from pipelines.tables import locked_io

            io["py-io-impl"] = locked_io.IMPL
            io[locked_io.LOCK_MODE] = lock_mode
            io[locked_io.RETENTION_DAYS] = str(getattr(store, "retention_days", None) or 1)
            io[locked_io.LEGAL_HOLD] = "true" if getattr(store, "legal_hold", False) else "false"
            io[locked_io.RETRY_BUDGET] = f"{timeouts.budget:g}"
            if archive_settings.retention_classes_path:
                io[locked_io.RETENTION_CLASSES] = archive_settings.retention_classes_path
    return TablesConfig(uri, root, io, timeouts)


def default_catalog_file(audit_db: Path, warehouse: str) -> Path:
    """The SQLite catalog of the archive at `warehouse` whose audit DB is `audit_db`:
    `<stem>.iceberg.db` beside it, except that a catalog at the former name (`iceberg.db` in
    the same folder) goes on serving the archive whose tables it holds while the new name does
    not exist (an upgrade keeps its catalog; another archive beside it gets its own)."""
    named = audit_db.with_name(f"{audit_db.stem}{CATALOG_SUFFIX}")
    legacy = audit_db.with_name(LEGACY_CATALOG_FILE)
    if not named.exists() and legacy.is_file() and _holds_tables_of(legacy, warehouse):
        return legacy
    return named


def _holds_tables_of(catalog_file: Path, warehouse: str) -> bool:
    """Whether the SQLite catalog file names a table of ours whose metadata lies under
    `warehouse` (read-only, with the standard library: pyiceberg's `iceberg_tables` table)."""
    import sqlite3

    prefix = f"{warehouse.rstrip('/')}/{METADATA_PREFIX}/"
    try:
        conn = sqlite3.connect(f"{catalog_file.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        locations = conn.execute(
            "SELECT metadata_location FROM iceberg_tables "
            "WHERE catalog_name = ? AND table_namespace = ?",
            (CATALOG_NAME, NAMESPACE),
        ).fetchall()
    except sqlite3.Error:
        return False  # not a catalog, or an empty one
    finally:
        conn.close()
    return any(str(location).startswith(prefix) for (location,) in locations)


def open_catalog(config: TablesConfig):
    """The catalog of `config.catalog_type` (namespace `rc_archive` created on first use).

    Glue and REST catalogs are built here rather than by pyiceberg's `load_catalog`, which
    gives them no timeouts (a boto3 client with botocore's 60 s and 10 tries; a requests
    session without any): Glue gets a client of `aws_client`, REST a session whose requests
    carry the connect and read timeouts (RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT)."""
    from pyiceberg.catalog import load_catalog

    props = config.catalog_properties()
    if config.catalog_type == "glue":
        catalog = _glue_catalog(props, config.timeouts)
    elif config.catalog_type == "rest":
        catalog = _rest_catalog(props, config.timeouts)
    else:
        catalog = load_catalog(CATALOG_NAME, **props)
    if (NAMESPACE,) not in catalog.list_namespaces():
        catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog


def _glue_catalog(props: dict[str, str], timeouts: settings.NetworkTimeouts):
    from pyiceberg.catalog.glue import GlueCatalog

    from pipelines.archive.store import aws_client

    access = settings.S3Access(
        endpoint_url=props.get("glue.endpoint"),
        region=props.get("glue.region"),
        access_key_id=props.get("glue.access-key-id"),
        secret_access_key=props.get("glue.secret-access-key"),
        session_token=props.get("glue.session-token"),
    )
    return GlueCatalog(CATALOG_NAME, client=aws_client("glue", access, timeouts), **props)


def _rest_catalog(props: dict[str, str], timeouts: settings.NetworkTimeouts):
    from pyiceberg.catalog.rest import RestCatalog

    class TimedRestCatalog(RestCatalog):
        """pyiceberg's REST catalog, each of whose requests has the connect and read timeouts
        (its session, made in `_create_session`, sends without any)."""

        def _create_session(self):
            session = super()._create_session()
            send = session.request

            def request(method, url, **kwargs):
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = (timeouts.connect, timeouts.read)
                return send(method, url, **kwargs)

            session.request = request
            return session

    return TimedRestCatalog(CATALOG_NAME, **props)


def _file_uri(root: str, key: str) -> str:
    return f"{root.rstrip('/')}/{key}"


@dataclass
class TableRefresh:
    table: str
    added: int = 0
    removed: int = 0
    manifests: int = 0
    snapshot_id: int | None = None
    metadata_location: str = ""


@dataclass
class _Pending:
    """What the new manifests of one table add up to, in commit order."""

    adds: dict[str, None] = field(default_factory=dict)  # keys, ordered
    deletes: set[str] = field(default_factory=set)  # keys already in the table
    positions: dict[str, str] = field(default_factory=dict)
    manifests: int = 0

    def add(self, key: str) -> None:
        self.adds[key] = None

    def replace(self, key: str) -> None:
        if key in self.adds:
            del self.adds[key]  # added and compacted within this refresh: never visible
        else:
            self.deletes.add(key)


def _pending(ledger: Ledger, table: str, properties: Mapping[str, str]) -> _Pending:
    pending = _Pending()
    for ledger_table in ledgers_of(table):
        for stream in ledger.streams(ledger_table):
            prop = position_key(ledger_table, stream)
            if prop not in properties:
                # First build of this stream: its live files (checkpoint + tail).
                state = ledger.state(ledger_table, stream)
                if state.head is None:
                    continue
                for entry in state.live_files(table):
                    pending.add(entry.key)
                pending.positions[prop] = str(state.head_seq)
                pending.manifests += 1
                continue
            after = int(properties[prop])
            seq = after
            for key in ledger.manifest_keys(ledger_table, stream, after):
                manifest = ledger.read_manifest(key)
                if manifest.seq != seq + 1:
                    raise RuntimeError(
                        f"{key}: seq {manifest.seq} follows {seq}; run `rc-archive verify`"
                    )
                seq = manifest.seq
                for entry in manifest.replaces:
                    if entry.table == table:
                        pending.replace(entry.key)
                for entry in manifest.files:
                    if entry.table == table:
                        pending.add(entry.key)
                pending.manifests += 1
            if seq != after:
                pending.positions[prop] = str(seq)
    return pending


class OtherArchiveTableError(ValueError):
    """The catalog's table belongs to another archive (its location is not this warehouse)."""


def _load_or_create(catalog, config: TablesConfig, table: str):
    """The catalog's table of `table`; created (empty) when the catalog has none.

    A catalog entry whose metadata file is gone (the archive was replaced or restored without
    `_iceberg/`, the catalog kept) is a stale pointer: the entry is dropped and the table built
    again from the ledger, with new metadata objects (the tables are derived, never the record).
    An entry located in another archive is refused: refreshing it would register this
    archive's files in that archive's table."""
    from pyiceberg.exceptions import NoSuchTableError

    identifier = (NAMESPACE, table)
    try:
        iceberg = catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    except FileNotFoundError as gone:
        log.warning(
            "Iceberg table %s.%s points at metadata that no longer exists (%s); building it "
            "again from the ledger",
            NAMESPACE,
            table,
            gone,
        )
        catalog.drop_table(identifier)
    else:
        expected = config.table_location(table).rstrip("/")
        if iceberg.location().rstrip("/") != expected:
            raise OtherArchiveTableError(
                f"Iceberg table {NAMESPACE}.{table} in the catalog is at {iceberg.location()}, "
                f"not in this archive ({expected}): the catalog ({CATALOG_URI_ENV}) belongs to "
                "another archive; give each archive its own catalog, or run "
                "`rc-archive tables --rebuild` to point it at this one"
            )
        return iceberg
    return catalog.create_table(
        identifier,
        schema=SCHEMAS[table],
        location=config.table_location(table),
        properties={
            "format-version": "2",
            "rc-archive.table": table,
        },
    )


def refresh_tables(
    store: ObjectStore, config: TablesConfig, ledger: Ledger | None = None
) -> list[TableRefresh]:
    """Apply every manifest committed since the last refresh to each table (one snapshot per
    table that changed). Tables of data tables the archive has no files of are created empty."""
    ledger = ledger or Ledger(store)
    catalog = open_catalog(config)
    root = archive_root_uri(store)
    results = []
    for table in TABLES:
        iceberg = _load_or_create(catalog, config, table)
        pending = _pending(ledger, table, iceberg.properties)
        result = TableRefresh(table, len(pending.adds), len(pending.deletes), pending.manifests)
        if NAME_MAPPING_PROPERTY not in iceberg.properties:
            # Files written by pyarrow carry no field ids: readers map columns by name.
            mapping = iceberg.schema().name_mapping.model_dump_json()
            pending.positions[NAME_MAPPING_PROPERTY] = mapping
        if pending.positions:
            summary = {
                "rc-archive.manifests": str(pending.manifests),
                "rc-archive.files-added": str(len(pending.adds)),
                "rc-archive.files-replaced": str(len(pending.deletes)),
            }
            with iceberg.transaction() as tx:
                tx.set_properties(pending.positions)
                if pending.adds or pending.deletes:
                    _commit_files(tx, iceberg, root, pending, summary)
            iceberg = catalog.load_table((NAMESPACE, table))
        snapshot = iceberg.current_snapshot()
        result.snapshot_id = None if snapshot is None else snapshot.snapshot_id
        result.metadata_location = iceberg.metadata_location
        results.append(result)
    close_catalog(catalog)
    return results


def close_catalog(catalog) -> None:
    """Close the catalog's database connections now, in this thread: left to the garbage
    collector, SQLite connections get closed from another thread and log errors."""
    engine = getattr(catalog, "engine", None)
    if engine is not None:
        engine.dispose()


def _commit_files(tx, iceberg, root: str, pending: _Pending, summary) -> None:
    new_paths = [_file_uri(root, key) for key in pending.adds]
    new_files = data_files(iceberg.io, tx.table_metadata, new_paths)
    if not pending.deletes:
        with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
            for data_file in new_files:
                append.append_data_file(data_file)
        return
    wanted = {_file_uri(root, key) for key in pending.deletes}
    current = {
        task.file.file_path: task.file
        for task in iceberg.scan().plan_files()
        if task.file.file_path in wanted
    }
    missing = wanted - set(current)
    if missing:
        raise RuntimeError(
            f"Iceberg table {iceberg.name()} does not hold {len(missing)} file(s) a compaction "
            f"replaces (e.g. {sorted(missing)[0]}); run `rc-archive tables --rebuild`"
        )
    with tx.update_snapshot(snapshot_properties=summary).overwrite() as overwrite:
        for data_file in current.values():
            overwrite.delete_data_file(data_file)
        for data_file in new_files:
            overwrite.append_data_file(data_file)


def data_files(io, metadata, paths: list[str]) -> list:
    """pyiceberg's `parquet_file_to_data_file` for each path, with the work that depends only
    on the table and the file's schema done once.

    Why: per file, the schema compatibility check, the statistics plan and the column mapping
    walk both schemas in Python (~10 of ~16 ms a file), and the transaction's metadata is a deep
    copy per access; a 200,000-message archive registers ~1,000 files. The first file of each
    distinct Arrow schema still goes through `parquet_file_to_data_file` (the check included);
    the others, whose schema is byte for byte one already checked, get the same DataFile from
    the same public pieces without repeating the check.
    """
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_file_to_data_file,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    schema = metadata.schema()
    spec = metadata.spec()
    stats_columns = compute_statistics_plan(schema, metadata.properties)
    column_mapping = parquet_path_to_id_mapping(schema)
    checked: set[bytes] = set()
    out = []
    for path in paths:
        input_file = io.new_input(path)
        with input_file.open() as stream:
            parquet_metadata = pq.read_metadata(stream)
        schema_key = parquet_metadata.schema.to_arrow_schema().serialize().to_pybytes()
        if schema_key not in checked:
            out.append(parquet_file_to_data_file(io, metadata, path))
            checked.add(schema_key)
            continue
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=parquet_metadata,
            stats_columns=stats_columns,
            parquet_column_mapping=column_mapping,
        )
        out.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=path,
                file_format=FileFormat.PARQUET,
                partition=statistics.partition(spec, schema),
                file_size_in_bytes=len(input_file),
                sort_order_id=None,
                spec_id=metadata.default_spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )
    return out


def rebuild_tables(
    store: ObjectStore, config: TablesConfig, ledger: Ledger | None = None
) -> list[TableRefresh]:
    """Drop the catalog's entries (never a file: old metadata stays in the archive) and build
    every table again from the ledger."""
    catalog = open_catalog(config)
    for identifier in catalog.list_tables(NAMESPACE):
        catalog.drop_table(identifier)
    close_catalog(catalog)
    return refresh_tables(store, config, ledger)


def scan_hashes(catalog, table: str) -> pa.Table:
    """record_sha256 of every row of the Iceberg table (pyiceberg scan, read with pyarrow)."""
    return (
        catalog.load_table((NAMESPACE, table)).scan(selected_fields=("record_sha256",)).to_arrow()
    )


@dataclass(frozen=True)
class TableCheck:
    table: str
    iceberg_rows: int
    audit_rows: int
    missing: int  # in the audit view, not in Iceberg (by record_sha256, with multiplicity)
    extra: int  # in Iceberg, not in the audit view
    compared_with: str = "audit view"  # or "ledger" (a table the audit catalog lacks)

    @property
    def ok(self) -> bool:
        return self.iceberg_rows == self.audit_rows and not self.missing and not self.extra


def check_tables(
    config: TablesConfig,
    audit_db_path: str | os.PathLike[str],
    archive_settings: settings.Settings,
    store: ObjectStore | None = None,
) -> list[TableCheck]:
    """Compare each Iceberg table with the audit catalog's committed rows of the same table
    (`internal._src_<table>`): row counts and the multiset of record_sha256. A table the
    audit catalog has no view of (attachments) is compared with the ledger's live files of
    `store` instead (skipped without a store)."""
    from pipelines.catalog.connection import INTERNAL_SCHEMA, connect

    catalog = open_catalog(config)
    conn = connect(audit_db_path, archive_settings)
    checks = []
    try:
        views = {
            row[0]
            for row in conn.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = ?", [INTERNAL_SCHEMA]
            ).fetchall()
        }
        ledger = Ledger(store) if store is not None else None
        for table in TABLES:
            if f"_src_{table}" in views:
                audit = conn.execute(
                    f"SELECT record_sha256 FROM {INTERNAL_SCHEMA}._src_{table}"
                ).fetch_arrow_table()
                source = "audit view"
            elif ledger is not None:
                audit = _ledger_hashes(ledger, table)
                source = "ledger"
            else:
                continue
            checks.append(compare(table, scan_hashes(catalog, table), audit, source))
    finally:
        conn.close()
        close_catalog(catalog)
    return checks


def _ledger_hashes(ledger: Ledger, table: str) -> pa.Table:
    files = ledger.committed_files(table)
    if not files:
        return pa.table({"record_sha256": pa.array([], pa.string())})
    return ledger.read_table(files, ["record_sha256"])


def compare(table: str, iceberg: pa.Table, audit: pa.Table, source: str = "") -> TableCheck:
    ours = Counter(iceberg.column("record_sha256").to_pylist())
    theirs = Counter(audit.column("record_sha256").to_pylist())
    return TableCheck(
        table,
        iceberg.num_rows,
        audit.num_rows,
        sum((theirs - ours).values()),
        sum((ours - theirs).values()),
        source,
    )


def duckdb_setup_sql(config: TablesConfig, s3: settings.S3Access) -> str:
    """What a DuckDB 1.5.5 client runs once before `iceberg_scan`, offline: auto-install and
    auto-load off, the avro and iceberg binaries of the pinned wheels loaded by path (as
    pipelines/catalog/connection.py loads httpfs), and for a warehouse on S3 first httpfs and the
    S3 secret (its secret key masked: fill it in). A bare `LOAD iceberg` would download the
    extension. Raises FileNotFoundError naming the wheel to install when one is missing."""
    from pipelines.catalog.connection import s3_client_statements, sql_literal, wheel_extension_path

    if config.warehouse.startswith("s3://"):
        statements = s3_client_statements(s3)  # starts with the two SETs, then LOAD httpfs
    else:
        statements = [
            "SET autoinstall_known_extensions=false",
            "SET autoload_known_extensions=false",
        ]
    for name in ("avro", "iceberg"):
        package = f"duckdb_extension_{name}"
        statements.append(f"LOAD {sql_literal(str(wheel_extension_path(package, name)))}")
    return "; ".join(statements) + ";"


def duckdb_setup_help(config: TablesConfig, s3: settings.S3Access) -> str:
    """The lines `rc-archive tables` prints once, before each table's: DuckDB's setup, or why
    DuckDB cannot read the tables here (then PyIceberg, printed per table, still can)."""
    try:
        setup = duckdb_setup_sql(config, s3)
    except FileNotFoundError as missing:
        return f"DuckDB: cannot read the tables offline here ({missing}); use PyIceberg below"
    return (
        "DuckDB 1.5.5, once per session (offline: the pinned wheels' extensions, by path):\n"
        f"  {setup}"
    )


def reading_help(config: TablesConfig, table: str, metadata_location: str) -> str:
    """How to read one table from outside: catalog settings, identifier, DuckDB (after
    `duckdb_setup_help`'s statements), PyIceberg."""
    settings = ", ".join(
        f"{k!r}: {v!r}" for k, v in config.catalog_properties().items() if "secret" not in k
    )
    return "\n".join(
        [
            f"{NAMESPACE}.{table}",
            f"  catalog: type {config.catalog_type}, uri {config.catalog_uri}, "
            f"warehouse {config.warehouse}",
            f"  metadata: {metadata_location}",
            f"  DuckDB:   SELECT count(*) FROM iceberg_scan('{metadata_location}');",
            "  PyIceberg: from pyiceberg.catalog import load_catalog; "
            f"load_catalog({CATALOG_NAME!r}, **{{{settings}}})"
            f".load_table('{NAMESPACE}.{table}').scan().to_arrow()",
        ]
    )


def row_counts(config: TablesConfig, audit_db_path: str | os.PathLike[str]) -> dict[str, tuple]:
    """table -> (rows in the Iceberg table's current snapshot, rows of the live files the audit
    catalog lists): the cheap agreement check run after each refresh. It reads the snapshot
    summaries and the catalog's live-file list, never a data file (`check_tables` compares
    every row's hash, for `rc-archive tables --check`)."""
    import duckdb

    conn = duckdb.connect(str(audit_db_path), read_only=True)
    try:
        catalog_rows = dict(
            conn.execute(
                "SELECT table_name, sum(rows) FROM internal._live_files GROUP BY 1"
            ).fetchall()
        )
    finally:
        conn.close()
    catalog = open_catalog(config)
    counts = {}
    try:
        for table in TABLES:
            snapshot = catalog.load_table((NAMESPACE, table)).current_snapshot()
            summary = snapshot.summary if snapshot is not None else None
            total = int(summary["total-records"]) if summary and "total-records" in summary else 0
            counts[table] = (total, int(catalog_rows.get(table) or 0))
    finally:
        close_catalog(catalog)
    return counts
