"""Apache Iceberg tables of the archive's committed state (docs/tables.md)."""

from pipelines.tables.iceberg import (
    CATALOG_URI_ENV,
    NAMESPACE,
    OtherArchiveTableError,
    TableCheck,
    TablesConfig,
    check_tables,
    open_catalog,
    rebuild_tables,
    refresh_tables,
    tables_config,
)

__all__ = [
    "CATALOG_URI_ENV",
    "NAMESPACE",
    "OtherArchiveTableError",
    "TableCheck",
    "TablesConfig",
    "check_tables",
    "open_catalog",
    "rebuild_tables",
    "refresh_tables",
    "tables_config",
]
