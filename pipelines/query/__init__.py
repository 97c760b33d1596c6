"""What auditors run against the catalog: SQL, named queries, transcripts, exports (RSMF),
search, reports and the sources' status, each read logged to the access trail.

Everything here opens `audit.duckdb` read-only (`catalog.connection.connect`) and reads only
files listed in committed manifests; nothing here writes the archive except access events.
"""
