"""`rc-archive search "terms"`: ranked full-text search (BM25) over every archived version.

DuckDB's `fts` extension (loaded from the pinned wheel, never downloaded) indexes a table once;
it has no incremental update. An index of the whole archive rebuilt at every catalog refresh
would cost the archive's size every 15 minutes, so the index is cut in segments, one per month
of `creation_time`, in a file of its own next to the catalog (`<catalog>.search.duckdb`, a
cache: delete it and the next search rebuilds it). Each segment remembers the live contents
files of its month it was built from (a SHA-256 of their sorted keys); a search rebuilds only
the segments whose files changed since (the current month after new runs; an older month after
a late edit, a compaction or a disposition, so disposed messages leave the index too), then
asks every segment and merges by score.

What a search reads: the catalog's live-file list, the rows of the stale months (through the
audit views), and the index. Scores are BM25 within each month's segment (term statistics are
per segment), so a rare word in a quiet month ranks a little higher than the same word in a
busy one.

Disposition. Dropping a segment's tables does not erase their bytes: DuckDB reuses the freed
blocks but leaves them as they were, so an index refreshed in place would keep the disposed
texts and authors inside its file. The index therefore remembers which dispositions it has
seen (a SHA-256 of the disposition manifests' keys); when the catalog shows a new one, the
next refresh writes a new file holding only live versions and moves it over the old one
(`open_current_index`; `rc-archive disposition --execute` does it at once, `purge_index`).

Tokens: lower case, accents stripped, split on anything that is not a letter or a digit in any
script, English Porter stemming (`promises` finds `promise`). Scripts written without spaces
(Chinese, Japanese) index a run of characters as one token: search them with the supervision
lexicon (`flags`) or `sql` instead.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.archive.keys import period_of_key
from pipelines.catalog.connection import INTERNAL_SCHEMA, wheel_extension_path

# 2: each segment keeps its BM25 subscores per (term, document) (`<segment>_postings`).
INDEX_FORMAT = "rc-archive/search/2"
# Anything that is not a letter, a mark or a digit of any script separates tokens.
TOKEN_SEPARATORS = r"[^\p{L}\p{M}\p{N}]+"
SNIPPET_CHARS = 120
# Okapi BM25 (k1 = 1.2, b = 0.75, as DuckDB's match_bm25) of each (term, document) of a segment,
# computed once when the segment is built: a search then sums the subscores of its terms'
# postings (sorted by term, so only their row groups are read) instead of scoring every posting
# through the fts index's tables again; same scores, a third of the time at 1M versions.
POSTINGS = """
CREATE TABLE {table}_postings AS
SELECT
    tf.termid,
    docs.name AS doc_id,
    log(((stats.num_docs - dict.df) + 0.5) / (dict.df + 0.5) + 1)
        * ((tf.tf * (1.2 + 1)) / (tf.tf + 1.2 * ((1 - 0.75) + 0.75 * (docs.len / stats.avgdl))))
        AS subscore
FROM (SELECT termid, docid, count(*) AS tf FROM fts_main_{table}.terms GROUP BY ALL) AS tf
JOIN fts_main_{table}.docs AS docs ON docs.docid = tf.docid
JOIN fts_main_{table}.dict AS dict ON dict.termid = tf.termid
CROSS JOIN fts_main_{table}.stats AS stats
ORDER BY tf.termid
"""
# The terms of a query as the segment's index knows them (tokenised and stemmed as indexed).
QUERY_TERMS = """
SELECT termid FROM fts_main_{table}.dict
WHERE term IN (SELECT DISTINCT stem(unnest(fts_main_{table}.tokenize($terms)), 'porter'))
"""
# A segment's best documents: every one scoring at least its `limit`-th best (ties kept, so the
# final order over every segment is the same as scoring them all).
SEGMENT_BEST = """
SELECT s.score, t.creation_time, t.source_id, t.thread_id, t.id, t.record_sha256,
       t.author_name, t.text
FROM (
    SELECT doc_id, sum(subscore) AS score FROM {table}_postings
    WHERE termid IN ({term_ids})
    GROUP BY doc_id
    QUALIFY rank() OVER (ORDER BY score DESC) <= $limit
) AS s
JOIN {table} AS t ON t.doc_id = s.doc_id
"""
LOCK_WAIT_SECONDS = 60.0  # a first build of a large archive's index takes seconds, not minutes


class SearchError(ValueError):
    """The terms or the index cannot be used; one line for the person searching."""


@dataclass(frozen=True)
class SearchHit:
    score: float
    creation_time: object
    source_id: str
    thread_id: str | None
    id: str
    record_sha256: str
    author_name: str | None
    snippet: str


def index_path(audit_db: str | Path) -> Path:
    path = Path(audit_db)
    return path.with_name(f"{path.stem}.search.duckdb")


def fts_extension_path() -> Path:
    return wheel_extension_path("duckdb_extension_fts", "fts")


def month_signatures(audit: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """month -> SHA-256 of the sorted keys of its live contents files (from the catalog)."""
    keys_by_month: dict[str, list[str]] = defaultdict(list)
    sql = f"SELECT key FROM {INTERNAL_SCHEMA}._live_files WHERE table_name = 'contents'"
    for (key,) in audit.execute(sql).fetchall():
        period = period_of_key(key)
        if period:
            keys_by_month[period[:7]].append(key)
    return {
        month: hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
        for month, keys in keys_by_month.items()
    }


def open_index(path: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """The index, opened for writing. A second `rc-archive search` while one holds the file
    (DuckDB locks it per process) waits its turn for up to `wait_seconds`, then says so."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            conn = duckdb.connect(
                str(path),
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise SearchError(
                    f"the search index {path} is held by another search for more than "
                    f"{wait_seconds:.0f} s; try again when it has finished"
                ) from None
            time.sleep(0.2)
    conn.execute(f"LOAD '{fts_extension_path()}'")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS segments (month VARCHAR PRIMARY KEY, files_sha256 VARCHAR, "
        "documents BIGINT, format VARCHAR)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS index_info (name VARCHAR PRIMARY KEY, value VARCHAR)")
    return conn


def disposals_signature(audit: duckdb.DuckDBPyConnection) -> str:
    """SHA-256 of the sorted keys of every disposition manifest the catalog knows."""
    sql = f"SELECT manifest_key FROM {INTERNAL_SCHEMA}._ledger_snapshot WHERE kind = 'disposition'"
    found = sorted(key for (key,) in audit.execute(sql).fetchall())
    return hashlib.sha256("\n".join(found).encode()).hexdigest()


def _recorded_disposals(index: duckdb.DuckDBPyConnection) -> str | None:
    row = index.execute("SELECT value FROM index_info WHERE name = 'disposals_sha256'").fetchone()
    return row[0] if row else None


def _record_disposals(index: duckdb.DuckDBPyConnection, signature: str) -> None:
    index.execute("INSERT OR REPLACE INTO index_info VALUES ('disposals_sha256', ?)", [signature])


def open_current_index(
    path: Path, audit: duckdb.DuckDBPyConnection, wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection:
    """The index, refreshed against the catalog `audit` and ready to search.

    When the catalog shows a disposition the index has not seen, the index is written anew
    into another file (only the live versions, every month) that replaces this one: the old
    file's freed blocks, which still hold the dropped segments' texts, go with it. Otherwise
    only the stale months are rebuilt in place (refresh_index)."""
    return bring_up_to_date(path, audit, open_index(path, wait_seconds), wait_seconds)


def bring_up_to_date(
    path: Path,
    audit: duckdb.DuckDBPyConnection,
    index: duckdb.DuckDBPyConnection,
    wait_seconds: float = LOCK_WAIT_SECONDS,
) -> duckdb.DuckDBPyConnection:
    """`open_current_index` for an index already opened at `path`: returns the connection to
    search (another one when the file was rewritten; `index` is then closed)."""
    try:
        signature = disposals_signature(audit)
        recorded = _recorded_disposals(index)
        holds_segments = index.execute("SELECT count(*) FROM segments").fetchone()[0] > 0
        if recorded != signature and holds_segments:
            index = _rewrite(path, audit, index, signature, wait_seconds)
        else:
            refresh_index(audit, index)
            _record_disposals(index, signature)
    except BaseException:
        index.close()
        raise
    return index


def _rewrite(
    path: Path,
    audit: duckdb.DuckDBPyConnection,
    index: duckdb.DuckDBPyConnection,
    signature: str,
    wait_seconds: float,
) -> duckdb.DuckDBPyConnection:
    """Build the whole index into a new file while holding the old one, then replace it."""
    fresh = path.with_name(f".{path.name}.rewrite-{uuid.uuid4().hex[:12]}")
    try:
        new = open_index(fresh, 0)
        try:
            refresh_index(audit, new)
            _record_disposals(new, signature)
            new.execute("CHECKPOINT")
        finally:
            new.close()
        index.close()
        os.replace(fresh, path)
    finally:
        for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return open_index(path, wait_seconds)


def purge_index(path: Path, audit: duckdb.DuckDBPyConnection, wait_seconds: float) -> bool:
    """Bring an existing index in line with the catalog now (after a disposition): True when
    it was brought in line, False when there is no index. SearchError when another search
    holds it for longer than `wait_seconds`."""
    if not path.exists():
        return False
    open_current_index(path, audit, wait_seconds).close()
    return True


def _segment_table(month: str) -> str:
    return "seg_" + month.replace("-", "_")


def refresh_index(
    audit: duckdb.DuckDBPyConnection, index: duckdb.DuckDBPyConnection
) -> tuple[int, int]:
    """Rebuild the stale segments, drop the months that have no live file any more.
    Returns (segments rebuilt, segments in the index)."""
    wanted = month_signatures(audit)
    have = {
        month: (signature, fmt)
        for month, signature, fmt in index.execute(
            "SELECT month, files_sha256, format FROM segments"
        ).fetchall()
    }
    for month in sorted(set(have) - set(wanted)):
        _drop_segment(index, month)
    rebuilt = 0
    for month, signature in sorted(wanted.items()):
        if have.get(month) == (signature, INDEX_FORMAT):  # a segment of an older format too
            continue
        _drop_segment(index, month)
        _build_segment(audit, index, month, signature)
        rebuilt += 1
    return rebuilt, len(wanted)


def _drop_segment(index: duckdb.DuckDBPyConnection, month: str) -> None:
    table = _segment_table(month)
    index.execute(f"DROP SCHEMA IF EXISTS fts_main_{table} CASCADE")
    index.execute(f"DROP TABLE IF EXISTS {table}_postings")
    index.execute(f"DROP TABLE IF EXISTS {table}")
    index.execute("DELETE FROM segments WHERE month = ?", [month])


def _build_segment(
    audit: duckdb.DuckDBPyConnection, index: duckdb.DuckDBPyConnection, month: str, signature: str
) -> None:
    """One month's versions (every version: an edited-away phrase is still found) into a
    table of the index, then its fts index."""
    start = f"{month}-01"
    rows = audit.execute(
        """
        SELECT row_number() OVER (ORDER BY c.creation_time, c.id, c.record_sha256) AS doc_id,
               c.id, c.record_sha256, c.source_id, c.thread_id, c.creation_time,
               coalesce(i.display_name, c.author_display_name) AS author_name,
               concat_ws(' ', c.title, c.body) AS text
        FROM contents AS c
        LEFT JOIN identities_latest AS i ON i.id = c.author_identity_id
        WHERE c.creation_time >= CAST($start AS DATE)
          AND c.creation_time < CAST($start AS DATE) + INTERVAL 1 MONTH
        """,
        {"start": start},
    ).fetch_arrow_table()
    table = _segment_table(month)
    index.register("segment_rows", rows)
    try:
        index.execute(f"CREATE TABLE {table} AS SELECT * FROM segment_rows")
    finally:
        index.unregister("segment_rows")
    if rows.num_rows:
        separators = TOKEN_SEPARATORS.replace("'", "''")
        index.execute(
            f"PRAGMA create_fts_index('{table}', 'doc_id', 'text', stemmer = 'porter', "
            f"stopwords = 'none', ignore = '{separators}', strip_accents = 1, lower = 1)"
        )
        index.execute(POSTINGS.format(table=table))
    index.execute(
        "INSERT INTO segments VALUES (?, ?, ?, ?)", [month, signature, rows.num_rows, INDEX_FORMAT]
    )


def search(index: duckdb.DuckDBPyConnection, terms: str, limit: int) -> list[SearchHit]:
    """The best `limit` versions for `terms` over every segment, by BM25 score."""
    if not terms.strip():
        raise SearchError("give the words to search for")
    if limit < 1:
        raise SearchError(f"--limit {limit}: expected 1 or more")
    months = [
        m for (m,) in index.execute("SELECT month FROM segments WHERE documents > 0").fetchall()
    ]
    parts = []
    for table in map(_segment_table, months):
        term_ids = [
            termid
            for (termid,) in index.execute(
                QUERY_TERMS.format(table=table), {"terms": terms}
            ).fetchall()
        ]
        if term_ids:
            parts.append(SEGMENT_BEST.format(table=table, term_ids=", ".join(map(str, term_ids))))
    if not parts:
        return []
    sql = f"""
        SELECT * FROM ({" UNION ALL ".join(parts)})
        ORDER BY score DESC, creation_time, id LIMIT $limit
    """
    rows = index.execute(sql, {"limit": limit}).fetchall()
    return [
        SearchHit(
            score=round(score, 4),
            creation_time=created,
            source_id=source_id,
            thread_id=thread_id,
            id=content_id,
            record_sha256=record_sha256,
            author_name=author,
            snippet=_snippet(text or ""),
        )
        for score, created, source_id, thread_id, content_id, record_sha256, author, text in rows
    ]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"
