"""Open the audit catalog with DuckDB, offline, with S3 access when the archive is on S3.

DuckDB would download its httpfs extension from the internet on first use, which fails on a
locked-down server (and silently reaches real AWS without a secret). So every connection loads
the binary pinned in the `duckdb-extension-httpfs` wheel, with auto-install and auto-load off,
and creates the S3 secret from the same AWS_* settings boto3 reads. Views persist in the
`.duckdb` file; secrets do not, which is why every opener goes through `connect`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import duckdb

DUCKDB_VERSION_DIR = "v1.5.5"
DEFAULT_AUDIT_DB = "./audit.duckdb"
# Written by catalog.build_catalog: tells an opener whether the views read s3:// paths.
CATALOG_INFO_TABLE = "_catalog_info"


class CatalogMissing(FileNotFoundError):
    """The audit database file does not exist yet."""


def httpfs_extension_path() -> Path:
    """The httpfs binary shipped by the pinned wheel (only loads into duckdb 1.5.5)."""
    import duckdb_extension_httpfs

    path = (
        Path(duckdb_extension_httpfs.__file__).parent
        / "extensions"
        / DUCKDB_VERSION_DIR
        / "httpfs.duckdb_extension"
    )
    if not path.is_file():
        raise FileNotFoundError(
            f"DuckDB httpfs extension not found at {path}; install the pinned wheel: "
            "pip install duckdb==1.5.5 duckdb-extension-httpfs==1.5.5"
        )
    return path


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def s3_secret_sql(env: Mapping[str, str]) -> str:
    """CREATE SECRET for the S3 settings in `env` (holds the secret key: never log it)."""
    key_id = env.get("AWS_ACCESS_KEY_ID")
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise ValueError(
            "the archive is on S3 but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set; "
            "set both so DuckDB can read the committed files"
        )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    options = [
        "TYPE s3",
        f"KEY_ID {_sql_literal(key_id)}",
        f"SECRET {_sql_literal(secret)}",
        f"REGION {_sql_literal(region)}",
    ]
    endpoint_url = env.get("AWS_ENDPOINT_URL")
    if endpoint_url:
        # S3-compatible servers (MinIO, moto): host:port, path-style, TLS from the scheme.
        parsed = urlparse(endpoint_url)
        if not parsed.netloc:
            raise ValueError(
                f"AWS_ENDPOINT_URL {endpoint_url!r} is not a URL like http://host:port"
            )
        options += [
            f"ENDPOINT {_sql_literal(parsed.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}",
        ]
    return f"CREATE OR REPLACE SECRET rc_archive_s3 ({', '.join(options)})"


def offline_httpfs_sql() -> list[str]:
    return [
        "SET autoinstall_known_extensions=false",
        "SET autoload_known_extensions=false",
        f"LOAD {_sql_literal(str(httpfs_extension_path()))}",
    ]


def client_setup_sql(env: Mapping[str, str], *, show_secret: bool = False) -> str:
    """The statements another DuckDB client (CLI, DBeaver, a notebook) runs after opening the file.

    The secret key is masked unless `show_secret`, so the line can be printed in docs or logs.
    """
    statements = offline_httpfs_sql()
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        shown = dict(env)
        if not show_secret:
            shown["AWS_SECRET_ACCESS_KEY"] = "<AWS_SECRET_ACCESS_KEY>"
        statements.append(s3_secret_sql(shown))
    return "; ".join(statements) + ";"


def configure_s3(conn: duckdb.DuckDBPyConnection, env: Mapping[str, str]) -> None:
    """Load the pinned httpfs and create the S3 secret on `conn`."""
    for statement in offline_httpfs_sql():
        conn.execute(statement)
    try:
        conn.execute(s3_secret_sql(env))
    except duckdb.Error as exc:
        # The statement holds the secret key; DuckDB may echo it: report without it.
        message = str(exc).replace(env.get("AWS_SECRET_ACCESS_KEY") or "\0", "***")
        raise RuntimeError(f"could not create the DuckDB S3 secret: {message}") from None


def _catalog_reads_s3(conn: duckdb.DuckDBPyConnection) -> bool:
    try:
        row = conn.execute(f"SELECT archive_uri FROM {CATALOG_INFO_TABLE}").fetchone()
    except duckdb.CatalogException:
        return False
    return bool(row and str(row[0]).startswith("s3://"))


def connect(
    audit_db: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    read_only: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the audit catalog (AUDIT_DB, default ./audit.duckdb) ready to query.

    Read-only by default: an auditor's session cannot change the catalog. When the catalog's
    views read s3:// files, the pinned httpfs is loaded and the S3 secret created from `env`.
    """
    env = os.environ if env is None else env
    path = Path(audit_db or env.get("AUDIT_DB") or DEFAULT_AUDIT_DB)
    if read_only and not path.exists():
        raise CatalogMissing(
            f"audit catalog {path} does not exist; build it with `rc-archive catalog` "
            "(or set AUDIT_DB to the right file)"
        )
    conn = duckdb.connect(
        str(path),
        read_only=read_only,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        conn.execute("SET TimeZone='UTC'")
        # Committed files are write-once, so their Parquet footers can be kept in memory for
        # the session: each later query over the same views skips re-reading hundreds of
        # footers (locally and, more so, over S3).
        conn.execute("SET parquet_metadata_cache=true")
        if _catalog_reads_s3(conn):
            configure_s3(conn, env)
    except BaseException:
        conn.close()
        raise
    return conn
