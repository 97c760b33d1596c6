"""The console's way into the audit catalog and its search index: one request at a time, the
catalog connection kept open between requests, the index kept open only while searches come.

Why one at a time: DuckDB keeps one database instance per file and process, and a catalog
connection locks that instance's configuration (`connection.lock_down`), so a second connection
opened while one is open in the same process is refused. Every catalog read of the console,
and every library function that opens the catalog itself (`flag_by_id`, `held_objects`,
`render_report`, ...), runs under `lock`.

Why keep the catalog connection: opening it (extensions, the committed-file list, the lock-down)
costs more than most pages' queries, and its Parquet footer cache is worth keeping. It is
reopened when the catalog file changes (`rc-archive catalog` writes a new file and renames it
over the old one), and closed before a library function opens its own (`exclusive`).

Why close the index when idle: the index file is refreshed in place and DuckDB lets one process
hold it; `rc-archive search` on the same machine waits for it. Kept open for INDEX_IDLE_SECONDS
after the last search, a burst of searches pays the opening once and a command waits a moment.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.catalog.connection import connect
from pipelines.query.search import SearchError, bring_up_to_date, index_path, open_index
from pipelines.settings import Settings

INDEX_IDLE_SECONDS = 2.0


class CatalogAccess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.audit_db = settings.audit_db
        self.lock = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int, int] | None = None
        self._index: duckdb.DuckDBPyConnection | None = None
        self._index_used = 0.0
        self._timer: threading.Timer | None = None

    def _file_identity(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.audit_db)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _close_catalog(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    @contextmanager
    def catalog(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The read-only, locked-down catalog connection, held for the caller alone."""
        with self.lock:
            identity = self._file_identity()
            if self._conn is None or identity != self._identity:
                self._close_catalog()
                self._close_index()
                self._conn = connect(self.audit_db, self.settings, read_only=True)
                self._identity = identity
            try:
                yield self._conn
            except duckdb.Error:
                self._close_catalog()  # a connection that failed is not trusted again
                raise

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the catalog with no connection of ours open: for a library function that opens
        the catalog itself."""
        with self.lock:
            self._close_catalog()
            self._close_index()
            yield

    @contextmanager
    def search_index(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The search index, brought up to date against the catalog, held for the caller."""
        with self.lock, self.catalog() as audit:
            path = index_path(self.audit_db)
            if self._index is None or not Path(path).exists():
                self._close_index()
                try:
                    index = open_index(path)
                except SearchError:
                    raise
                except duckdb.Error as error:
                    raise SearchError(
                        f"the search index {path} cannot be opened: {error}"
                    ) from None
            else:
                index, self._index = self._index, None
            # Refreshed first (rewritten after a disposition), so no disposed version is found;
            # on failure bring_up_to_date has closed it.
            self._index = bring_up_to_date(path, audit, index)
            try:
                yield self._index
            except duckdb.Error:
                self._close_index()
                raise
            finally:
                self._index_used = time.monotonic()
                self._schedule_index_close()

    def _schedule_index_close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(INDEX_IDLE_SECONDS, self._close_index_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _close_index_if_idle(self) -> None:
        with self.lock:
            if time.monotonic() - self._index_used >= INDEX_IDLE_SECONDS - 0.05:
                self._close_index()

    def _close_index(self) -> None:
        if self._index is not None:
            index, self._index = self._index, None
            index.close()

    def close(self) -> None:
        with self.lock:
            if self._timer is not None:
                self._timer.cancel()
            self._close_index()
            self._close_catalog()
