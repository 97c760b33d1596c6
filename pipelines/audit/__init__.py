"""The audit layer: a DuckDB catalog of views over the committed archive, and what auditors run.

`catalog.build_catalog` writes `audit.duckdb`; `connection.connect` opens it (with S3 access when
the archive is on S3); `queries`, `transcript`, `export` and `formatting` answer the questions a
compliance officer or a regulator asks. Every view reads only files listed in a manifest.
"""
