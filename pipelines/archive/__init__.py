"""Write-once object stores (local directory, S3), the Parquet writer, the hash-chained ledger
of manifests (the commit points) and `verify`, which proves the archive was not altered."""
