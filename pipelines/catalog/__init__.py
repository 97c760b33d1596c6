"""The audit catalog: `audit.duckdb`, views over exactly the files committed manifests name.

`build.build_catalog` writes it (into a temporary file, swapped in whole); `state` keeps what
an incremental rebuild reuses; `views` declares every view; `connection` opens DuckDB with the
archive's S3 access. It reads the write side (archive, governance) and is read by `query`.
"""
