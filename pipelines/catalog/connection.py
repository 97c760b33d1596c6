"""Open the audit catalog with DuckDB: offline, read-only by construction, following its archive.

Offline. DuckDB would download extensions from the internet on first use, which fails on a
locked-down server (and silently reaches real AWS without a secret). So every connection loads
the binaries pinned in the `duckdb-extension-httpfs` / `duckdb-extension-aws` wheels, with
auto-install and auto-load off. This module also turns them off on DuckDB's default connection
when it is imported, because `duckdb.extract_statements` parses there and a statement naming an
extension (e.g. `PRAGMA create_fts_index`) would otherwise make it download one while parsing.

Read-only by construction. An audit query runs on a connection whose configuration it cannot
change: the catalog file is opened read-only; the S3 secret is created and the extensions loaded
first; then `allowed_paths` is set to exactly the committed files (not a directory: DuckDB 1.5.5
lets a query WRITE anywhere it may read, so allowing the archive root or `_ledger/` would let
`COPY ... TO` add files there), `enable_external_access=false` (no other file, URL, ATTACH,
INSTALL or LOAD), and `lock_configuration=true` (no SET/RESET can undo any of it). S3
credentials exist only as a DuckDB SECRET, which `duckdb_secrets()` shows redacted, never as a
readable setting such as `s3_secret_access_key`. What the configuration cannot stop is a
`COPY ... TO` one of the allowed files themselves (a committed file, or the catalog, which
DuckDB allows implicitly), so `check_query` refuses every statement but a query, parsing it on
the locked connection; `queries.run_query` calls it before each query.

Following the archive. The views hold keys relative to the archive root, read as
`rc_archive_root() || key`. `rc_archive_root()` is a macro persisted in the `.duckdb` file: the
variable `rc_archive_root` when a session set it, else the archive the catalog was built from
(absolute path or `s3://` URI), always with one trailing slash. So any DuckDB client that opens
the file, from any directory, reads the views while the archive is where it was built; after a
move, `SET VARIABLE rc_archive_root = '/new/place/';` (allowed on a read-only connection)
points them at the new place (`move_statement`). `connect` always sets the variable: to
ARCHIVE_URI when set, else to the archive recorded in `catalog_info` (first the same place
relative to the catalog file, so an archive copied or moved together with its catalog is found,
then the absolute place it was built from). A variable, not DuckDB's `file_search_path`,
because it works the same for a directory and for `s3://bucket/prefix` (file_search_path
resolves local paths only), and because DuckDB checks `allowed_paths` against the path as
written in the query, so a relative path found through file_search_path is refused once
external access is off. The macro and the variable are folded to constants when a query binds
a view, so `read_parquet` still gets a constant list of files (the same plan as a literal list).
Views and macros persist in the `.duckdb` file; secrets, the variable and the lock do not, so
rc-archive opens the file through `connect`, and another client over an S3 archive runs
`client_setup_sql` first (`plain_client_help` is what `rc-archive catalog` prints).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from pipelines.settings import (
    ARCHIVE_URI,
    AUDIT_DB,
    AWS_ACCESS_KEY_ID,
    AWS_ENDPOINT_URL,
    AWS_SECRET_ACCESS_KEY,
    NetworkTimeouts,
    S3Access,
    Settings,
)

DUCKDB_VERSION_DIR = "v1.5.5"
DEFAULT_AUDIT_DB = "./audit.duckdb"
# Relations the views read but an auditor need not see. Not on the search path: SHOW TABLES
# lists every schema on it, so the views name these relations qualified (internal._src_...).
INTERNAL_SCHEMA = "internal"
# Written by catalog.build_catalog: the archive root the views were built from.
CATALOG_INFO_TABLE = f"{INTERNAL_SCHEMA}.catalog_info"
# The DuckDB variable that overrides the archive root the catalog recorded (module docstring).
ARCHIVE_ROOT_VARIABLE = "rc_archive_root"
# The persisted macro the views prefix their relative keys with: the variable when set, else the
# recorded root (`archive_root_macro_sql`). Created in the catalog's default schema.
ARCHIVE_ROOT_MACRO = "rc_archive_root"
_READ_STATEMENTS = {duckdb.StatementType.SELECT}
S3_CREDENTIAL_SETTINGS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")

# Parsing on the default connection (duckdb.extract_statements) must not download extensions.
for _setting in ("autoinstall_known_extensions", "autoload_known_extensions"):
    duckdb.default_connection().execute(f"SET {_setting}=false")


class CatalogMissing(FileNotFoundError):
    """The audit database file does not exist yet."""


class CatalogArchiveMissing(FileNotFoundError):
    """The audit database exists but the archive its views read is not where it was looked for."""


class QueryRefused(ValueError):
    """The SQL is not a single read-only query; audit connections only read."""


def wheel_extension_path(package: str, name: str) -> Path:
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError:
        module = None
    if module is not None and module.__file__:
        path = Path(module.__file__).parent / "extensions" / DUCKDB_VERSION_DIR
        path = path / f"{name}.duckdb_extension"
    else:
        path = Path(f"<{package} not installed>")
    if not path.is_file():
        raise FileNotFoundError(
            f"DuckDB {name} extension not found at {path}; install the pinned wheel: "
            f"pip install duckdb==1.5.5 {package.replace('_', '-')}==1.5.5"
        )
    return path


def httpfs_extension_path() -> Path:
    """The httpfs binary shipped by the pinned wheel (only loads into duckdb 1.5.5)."""
    return wheel_extension_path("duckdb_extension_httpfs", "httpfs")


def aws_extension_path() -> Path:
    """The aws binary (credential_chain secrets) shipped by the pinned wheel."""
    return wheel_extension_path("duckdb_extension_aws", "aws")


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def s3_secret_sql(s3: S3Access) -> str:
    """CREATE SECRET for `s3` (may hold the secret key: never log it; `s3.masked()` may be).

    With AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary
    credentials) the secret holds them; without, DuckDB's `credential_chain` provider (aws
    extension) finds them the way the AWS SDK does: AWS_PROFILE in the shared config/credentials
    files, SSO, web identity, the instance or container role."""
    region = s3.region or "us-east-1"
    if s3.static_keys:
        options = [
            "TYPE s3",
            f"KEY_ID {sql_literal(s3.access_key_id or '')}",
            f"SECRET {sql_literal(s3.secret_access_key or '')}",
        ]
        if s3.session_token:
            options.append(f"SESSION_TOKEN {sql_literal(s3.session_token)}")
    elif s3.access_key_id or s3.secret_access_key:
        raise ValueError(
            f"only one of {AWS_ACCESS_KEY_ID} / {AWS_SECRET_ACCESS_KEY} is set; set both, or "
            "neither to use the AWS credential chain (AWS_PROFILE, SSO, instance role)"
        )
    else:
        options = ["TYPE s3", "PROVIDER credential_chain"]
        if s3.profile:
            options.append(f"PROFILE {sql_literal(s3.profile)}")
    options.append(f"REGION {sql_literal(region)}")
    if s3.endpoint_url:
        # S3-compatible servers (MinIO, moto): host:port, path-style, TLS from the scheme.
        parsed = urlparse(s3.endpoint_url)
        if not parsed.netloc:
            raise ValueError(
                f"{AWS_ENDPOINT_URL} {s3.endpoint_url!r} is not a URL like http://host:port"
            )
        options += [
            f"ENDPOINT {sql_literal(parsed.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}",
        ]
    return f"CREATE OR REPLACE SECRET rc_archive_s3 ({', '.join(options)})"


def offline_httpfs_sql(s3: S3Access | None = None) -> list[str]:
    """Auto-install/auto-load off, then LOAD the pinned httpfs (and aws, for credential_chain:
    with `s3` and no static keys in it)."""
    statements = [
        "SET autoinstall_known_extensions=false",
        "SET autoload_known_extensions=false",
        f"LOAD {sql_literal(str(httpfs_extension_path()))}",
    ]
    if s3 is not None and not s3.static_keys:
        statements.append(f"LOAD {sql_literal(str(aws_extension_path()))}")
    return statements


def archive_root_sql(archive_root: str) -> str:
    """SET the variable the views prefix their keys with (root with one trailing slash)."""
    return f"SET VARIABLE {ARCHIVE_ROOT_VARIABLE} = {sql_literal(root_prefix(archive_root))}"


def root_prefix(archive_root: str) -> str:
    return archive_root.rstrip("/") + "/"


def archive_root_macro_sql(recorded_root: str) -> str:
    """CREATE the persisted macro `rc_archive_root()`: the variable when a session set it, else
    `recorded_root` (absolute, as the build saw it); with exactly one trailing slash, so a
    `SET VARIABLE` written without one still works. Every function in it is constant, so a view
    binds to a literal list of files."""
    return (
        f"CREATE OR REPLACE MACRO {ARCHIVE_ROOT_MACRO}() AS rtrim(coalesce("
        f"getvariable({sql_literal(ARCHIVE_ROOT_VARIABLE)}), "
        f"{sql_literal(root_prefix(recorded_root))}), '/') || '/'"
    )


def move_statement(archive_root: str) -> str:
    """The one statement that points a plain DuckDB client's views at an archive that moved."""
    root = archive_root if "://" in archive_root else os.path.abspath(archive_root)
    return archive_root_sql(root) + ";"


def s3_client_statements(s3: S3Access, *, show_secret: bool = False) -> list[str]:
    """What another DuckDB client runs before reading an S3 archive: the pinned extensions
    loaded offline, the S3 secret (the secret key and session token masked unless
    `show_secret`, so the statements can be printed in docs or logs), the settings httpfs copies
    from the environment blanked."""
    return [
        *offline_httpfs_sql(s3),
        s3_secret_sql(s3 if show_secret else s3.masked()),
        *(f"SET {setting} = ''" for setting in S3_CREDENTIAL_SETTINGS),
    ]


def client_setup_sql(
    settings: Settings,
    *,
    show_secret: bool = False,
    archive_root: str | None = None,
) -> str:
    """The statements another DuckDB client (CLI, DBeaver, a notebook) runs after opening the file.

    For an archive on S3 (`archive_root`, else ARCHIVE_URI, is an s3:// URI, or AWS keys are
    set), `s3_client_statements`. With `archive_root` (else ARCHIVE_URI) they also point the
    views there (`move_statement`); without, the views read the archive the catalog recorded.
    They do not lock the session: that is `connect`'s job for rc-archive's own queries; open the
    file read-only elsewhere. Empty when there is nothing to run."""
    root = archive_root or settings.archive_uri
    is_s3 = bool(root and root.startswith("s3://")) or bool(settings.s3.access_key_id)
    statements = s3_client_statements(settings.s3, show_secret=show_secret) if is_s3 else []
    if root:
        statements.append(move_statement(root).rstrip(";"))
    return "; ".join(statements) + ";" if statements else ""


def plain_client_help(
    audit_db: str | os.PathLike[str], archive_root: str, s3: S3Access
) -> list[str]:
    """How to open the catalog in another DuckDB client: the lines `rc-archive catalog` prints
    (README, "Open the audit DB in your own tool"). The S3 secret is masked."""
    lines = [
        "open it in any DuckDB client, from any directory: "
        f"duckdb -readonly {os.path.abspath(audit_db)}"
    ]
    if archive_root.startswith("s3://"):
        fill_in = " (with the secret filled in)" if s3.static_keys else ""
        lines += [
            f"the archive is on S3: there, first run{fill_in}",
            "  " + "; ".join(s3_client_statements(s3)) + ";",
        ]
    lines += [
        f"its views read the archive at {root_prefix(archive_root)}; "
        "if the archive moves, point them at the new place with",
        "  " + move_statement(archive_root),
    ]
    return lines


def httpfs_timeout_sql(timeouts: NetworkTimeouts) -> list[str]:
    """httpfs' timeouts for S3 reads, from the settings every network client uses
    (RC_ARCHIVE_READ_TIMEOUT, RC_ARCHIVE_RETRY_BUDGET; docs/deploy.md, "Timeouts"), instead of
    httpfs' 30 s and 3 retries: an S3 endpoint that accepts connections and never answers ends
    the query within the budget, with an IO error naming the URL (exit 4).
    `NetworkTimeouts.duckdb_http` says how the budget is split."""
    timeout, retries = timeouts.duckdb_http()
    return [f"SET http_timeout = {timeout}", f"SET http_retries = {retries}"]


def configure_s3(conn: duckdb.DuckDBPyConnection, s3: S3Access, timeouts: NetworkTimeouts) -> None:
    """Load the pinned extensions, set the network timeouts and create the S3 secret on
    `conn`."""
    for statement in offline_httpfs_sql(s3) + httpfs_timeout_sql(timeouts):
        conn.execute(statement)
    try:
        conn.execute(s3_secret_sql(s3))
    except duckdb.Error as exc:
        # The statement holds the secret key; DuckDB may echo it: report without it.
        message = str(exc)
        for secret in s3.secrets():
            message = message.replace(secret, "***")
        first = (message.splitlines() or [""])[0]
        raise RuntimeError(f"could not create the DuckDB S3 secret: {first}") from None
    # httpfs copies AWS_* environment variables into readable settings when it loads
    # (current_setting('s3_secret_access_key') would print the key): blank them, the secret
    # above is what DuckDB uses.
    for setting in S3_CREDENTIAL_SETTINGS:
        conn.execute(f"SET {setting} = ''")


def catalog_info(conn: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, str | None]:
    """(archive URI as built, archive path relative to the catalog's directory or None)."""
    try:
        row = conn.execute(
            f"SELECT archive_uri, archive_relpath FROM {CATALOG_INFO_TABLE}"
        ).fetchone()
    except duckdb.CatalogException:
        row = None
    if not row:
        raise CatalogMissing(
            f"audit catalog {path} was built by an older version (no archive root recorded); "
            "rebuild it with `rc-archive catalog`"
        )
    return str(row[0]), row[1]


def resolve_archive_root(
    audit_db: Path,
    recorded_uri: str,
    recorded_relpath: str | None,
    configured: str | None,
    *,
    must_exist: bool = True,
) -> str:
    """The archive the views read: `configured` (ARCHIVE_URI, `Settings.archive_uri`), else
    the recorded one (see module docstring).

    A local archive that is not there raises CatalogArchiveMissing (one line, with the fix),
    unless nothing was committed when the catalog was built (`must_exist` False): its views
    read no file."""
    if configured:
        candidates = [configured]
    else:
        candidates = []
        if recorded_relpath is not None:
            candidates.append(str(audit_db.resolve().parent / recorded_relpath))
        candidates.append(recorded_uri)
    for candidate in candidates:
        if "://" in candidate:
            return candidate.rstrip("/")
        if os.path.isdir(candidate):
            return os.path.abspath(candidate)
    if not must_exist:
        return os.path.abspath(candidates[-1])
    source = ARCHIVE_URI if configured else "the catalog's record"
    raise CatalogArchiveMissing(
        f"audit catalog {audit_db} reads the archive at {candidates[-1]} ({source}), which is "
        f"not there; set {ARCHIVE_URI} to where the archive is now and run `rc-archive catalog`"
    )


def _committed_keys(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The files the views read: the live files (compacted inputs excluded); a catalog built
    before the live-file table existed allows every file its manifests named."""
    try:
        rows = conn.execute(f"SELECT key FROM {INTERNAL_SCHEMA}._live_files").fetchall()
    except duckdb.CatalogException:
        rows = conn.execute(
            f"SELECT DISTINCT unnest(files) FROM {INTERNAL_SCHEMA}._ledger_snapshot"
        ).fetchall()
    return [row[0] for row in rows]


def lock_down(conn: duckdb.DuckDBPyConnection, readable_uris: list[str]) -> None:
    """Allow exactly `readable_uris`, turn external access off and lock the configuration."""
    conn.execute("SET allowed_directories = []")
    conn.execute("SET allowed_paths = $paths", {"paths": readable_uris})
    conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")


def connect(
    audit_db: str | os.PathLike[str] | None,
    settings: Settings,
    read_only: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the audit catalog (`audit_db`, else AUDIT_DB of `settings`) ready to query, locked
    down; its views read ARCHIVE_URI when set, else the archive the catalog recorded, over S3
    with `settings.s3` and `settings.network`.

    The returned connection can read the committed files of the archive and nothing else, and
    cannot be reconfigured (see the module docstring). `read_only` is kept for callers; the
    catalog is always opened read-only (only `rc-archive catalog` writes it, into a new file).
    """
    del read_only
    path = Path(audit_db or settings.audit_db or DEFAULT_AUDIT_DB)
    if not path.exists():
        raise CatalogMissing(
            f"audit catalog {path} does not exist; build it with `rc-archive catalog` "
            f"(or set {AUDIT_DB} to the right file)"
        )
    conn = duckdb.connect(
        str(path),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        conn.execute("SET TimeZone='UTC'")
        # Committed files are write-once, so their Parquet footers can be kept in memory for
        # the session: each later query over the same views skips re-reading hundreds of
        # footers (locally and, more so, over S3).
        conn.execute("SET parquet_metadata_cache=true")
        recorded_uri, recorded_relpath = catalog_info(conn, path)
        keys = _committed_keys(conn)
        root = resolve_archive_root(
            path, recorded_uri, recorded_relpath, settings.archive_uri, must_exist=bool(keys)
        )
        if root.startswith("s3://"):
            configure_s3(conn, settings.s3, settings.network)
        conn.execute(archive_root_sql(root))
        prefix = root_prefix(root)
        lock_down(conn, [prefix + key for key in keys])
    except BaseException:
        conn.close()
        raise
    return conn


_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_EXPLAIN = re.compile(r"EXPLAIN\b\s*(?:ANALY[SZ]E\b|\([^)]*\))?", re.IGNORECASE)


def check_query(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryRefused unless `sql` is one query (SELECT/WITH/FROM/SHOW/DESCRIBE/SUMMARIZE,
    or EXPLAIN [ANALYZE] of one), parsed on `conn` (auto-install and auto-load off).

    EXPLAIN ANALYZE runs its statement, so an EXPLAIN is judged by the statement it explains."""
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise QueryRefused(f"SQL does not parse: {first}") from None
    if len(statements) != 1:
        raise QueryRefused(
            "no SQL statement given"
            if not statements
            else "audit SQL runs one query at a time; split the statements"
        )
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        text = statement.query or sql
        text = text[_LEADING_COMMENTS.match(text).end() :]
        explain = _EXPLAIN.match(text)
        inner = text[explain.end() :] if explain else ""
        try:
            inner_statements = conn.extract_statements(inner) if inner.strip() else []
        except duckdb.Error:
            inner_statements = []
        if len(inner_statements) == 1 and inner_statements[0].type in _READ_STATEMENTS:
            return
    elif statement.type in _READ_STATEMENTS:
        return
    shown = " ".join((statement.query or sql).split())[:80]
    raise QueryRefused(
        "audit SQL only runs read-only queries (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN of a "
        f"query); refused a {statement.type.name} statement: {shown!r}"
    )
