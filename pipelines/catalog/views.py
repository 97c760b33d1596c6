"""The SQL of the audit views, over relations that read committed files only.

Why the window partitions carry more columns than the key: a content's channel and thread never
change between versions (the API has no "move"), so partitioning by (source_id, thread_id, id)
is the same as by id, and it lets DuckDB push a thread or channel filter below the window.

Why some answers are build-time tables: committed files are write-once and the catalog is a
snapshot of the ledger, so facts about the committed key columns (which versions are superseded,
which files hold a thread's rows, whether any version was committed twice) hold until the
next build. Computing them once at build time keeps the per-query windows over every row out of
the auditor's queries, so DuckDB can push filters down to the Parquet scan. The tables hold keys
only: every body, name and attachment still comes from the committed Parquet files.
"""

from __future__ import annotations

# Every archived version, once: a retried batch can only add an identical (id, hash) row,
# which is dropped here keeping the first archived copy.
CONTENTS_DEDUPED = """
SELECT * FROM internal._src_contents
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id, record_sha256 ORDER BY archived_at, batch_id) = 1
"""

# Rows archived before version identities (pipelines/archive/version_aliases.py) whose only
# difference from an earlier row of the same message was a re-signed attachment link: the same
# version, archived again. Built from the version aliases (registered as `version_aliases`:
# id, record_sha256, version_sha256), over the messages that have an alias only: a row's version
# is its alias when it has one, else its record_sha256; every row after the first archived of a
# (message, version) is a repeat. Each record hash is taken once first, so a retried batch's
# identical copy (left to CONTENTS_DEDUPED) is not mistaken for a repeat.
TRANSPORT_REPEATS = """
WITH aliased AS (SELECT DISTINCT id FROM version_aliases),
keyed AS (
    SELECT c.source_id, c.thread_id, c.id, c.record_sha256,
        coalesce(any_value(a.version_sha256), c.record_sha256) AS version_sha256,
        min(c.archived_at) AS first_archived, min(c.batch_id) AS first_batch
    FROM internal._src_contents AS c
    SEMI JOIN aliased AS s ON s.id = c.id
    LEFT JOIN version_aliases AS a ON a.id = c.id AND a.record_sha256 = c.record_sha256
    GROUP BY c.source_id, c.thread_id, c.id, c.record_sha256
)
SELECT source_id, thread_id, id, record_sha256, version_sha256 FROM keyed
QUALIFY row_number() OVER (
    PARTITION BY source_id, id, version_sha256
    ORDER BY first_archived, first_batch, record_sha256) > 1
"""

# `contents` without the transport-only repeats (when the build found any): an anti join on
# their small key table, so filters still reach the Parquet scan below it.
WITHOUT_REPEATS = """
ANTI JOIN internal._contents_transport_repeats AS t
    ON c.id = t.id AND c.record_sha256 = t.record_sha256 AND c.source_id = t.source_id"""


def contents_body(duplicates: bool, repeats: bool, relation: str = "internal._src_contents") -> str:
    """The `contents` view for this snapshot: the plain scan when the build proved that no
    version was committed twice and nothing was archived again for a re-signed link.

    `relation` is what it reads: every committed contents file for the view; a subset of
    them for CONTENTS_IN_FILES, which then answers like the view for every thread whose
    files are all in the subset (the dedupe window and the repeats' anti join never reach
    across threads)."""
    if not duplicates and not repeats:
        return f"SELECT * FROM {relation}"
    body = f"SELECT c.* FROM {relation} AS c"
    if repeats:
        body += WITHOUT_REPEATS
    if duplicates:
        body += """
QUALIFY row_number() OVER (
    PARTITION BY c.source_id, c.thread_id, c.id, c.record_sha256
    ORDER BY c.archived_at, c.batch_id) = 1"""
    return body


# `contents` when the build proved (CONTENTS_DUPLICATE_KEYS = 0) that no version was committed
# twice: the dedupe window would keep every row, so the view is the plain scan, and a filter on
# any column reaches the Parquet reader (row-group statistics, hive partitions).
CONTENTS_PLAIN = "SELECT * FROM internal._src_contents"

# A table macro: `contents` over the committed contents files named by `keys` (keys under the
# archive root, as in internal._live_files) instead of all of them. For a thread question
# (`thread_transcript`) over the files internal._contents_thread_files lists for the thread:
# DuckDB then opens those few files, not every committed file. The build formats in its body
# (contents_body over the files' read_parquet with the same options as the view's).
CONTENTS_IN_FILES = "internal.contents_in_files"

# One pass over the committed key columns, for two build-time facts: the messages with more
# than one committed row, with how many distinct record hashes they have (`versions`) and the
# most copies of one hash (`most_copies`). CONTENTS_PLAIN holds when no most_copies exceeds 1
# (no window partition of CONTENTS_DEDUPED holds two rows); the superseded versions lie among
# the messages with two hashes or more (`contents` keeps at most one row per hash). Both used
# to take a pass of their own over every committed row.
CONTENTS_KEY_COUNTS = """
SELECT source_id, thread_id, id, count(*) AS versions, max(copies) AS most_copies
FROM (
    SELECT source_id, thread_id, id, record_sha256, count(*) AS copies
    FROM internal._src_contents
    GROUP BY source_id, thread_id, id, record_sha256)
GROUP BY source_id, thread_id, id
HAVING count(*) > 1 OR max(copies) > 1
"""
KEY_COUNTS_TABLE = "_contents_key_counts"

# Build-time proof for CONTENTS_PLAIN: how many window partitions of CONTENTS_DEDUPED hold more
# than one row.
CONTENTS_DUPLICATE_KEYS = f"""
SELECT count(*) FROM internal.{KEY_COUNTS_TABLE} WHERE most_copies > 1
"""

# Build-time tables over `contents`, in creation order: name -> SELECT. Each is created (in the
# `internal` schema, with the _src_* views and the ledger snapshot, so SHOW TABLES lists only
# the views an auditor queries) after the `contents` view and before the views that read it.
BUILD_TABLES: dict[str, str] = {
    # Every version that is not its message's newest (same order as the old per-query window:
    # last_modified_time, then archived_at, then batch_id, newest first). Edits are rare, so the
    # table is small, and contents_latest is an anti join against it. The window runs over the
    # messages with two record hashes or more only (CONTENTS_KEY_COUNTS): a message with one
    # has one row in `contents`, which is its newest.
    "_contents_superseded": f"""
WITH several_versions AS (
    SELECT source_id, thread_id, id FROM internal.{KEY_COUNTS_TABLE} WHERE versions > 1
)
SELECT c.source_id, c.thread_id, c.id, c.record_sha256
FROM contents AS c
SEMI JOIN several_versions AS s
    ON c.source_id = s.source_id AND c.thread_id IS NOT DISTINCT FROM s.thread_id AND c.id = s.id
QUALIFY row_number() OVER (
    PARTITION BY c.source_id, c.thread_id, c.id
    ORDER BY c.last_modified_time DESC NULLS LAST, c.archived_at DESC, c.batch_id DESC) > 1
""",
}


# The newest version of each message: every version minus the superseded ones. The rows of
# `contents` are unique per (source_id, thread_id, id, record_sha256), so the anti join on
# that key drops exactly the versions the build ranked below the newest. {contents}: the
# relation of `contents` rows it reads (the view, or CONTENTS_IN_FILES over some files).
CONTENTS_LATEST = """
SELECT c.* FROM {contents} AS c
ANTI JOIN internal._contents_superseded AS s
    ON c.id = s.id AND c.record_sha256 = s.record_sha256 AND c.source_id = s.source_id
    AND c.thread_id IS NOT DISTINCT FROM s.thread_id
"""

# The newest version of each message, with who wrote it (identity) and which agent sent it
# (extension behind creatorId); the names denormalised at archive time are the fallback.
# One name per fact: the archive-time names (author_display_name, creator_name) live on only
# inside author_name / agent_name, and the raw content_direction inside direction; the raw
# columns stay in `contents` for whoever needs the record as received. {latest}: the relation
# of `contents_latest` rows it reads.
MESSAGES = """
SELECT
    c.* EXCLUDE (author_display_name, creator_name, content_direction),
    coalesce(i.display_name, c.author_display_name) AS author_name,
    i.identity_type AS author_identity_type,
    coalesce(a.name, c.creator_name) AS agent_name,
    coalesce(a.extension_number, c.creator_extension_number) AS agent_extension_number,
    coalesce(a.email, c.creator_email) AS agent_email,
    coalesce(len(c.attachments), 0) AS attachment_count
FROM {latest} AS c
LEFT JOIN identities_latest AS i ON i.id = c.author_identity_id
LEFT JOIN agents AS a ON a.extension_id = c.creator_id
"""

# A table macro: `messages` read from the committed contents files holding a row created on a
# day in [d_from, d_to] (every such file; maybe others): each of its rows is a row of
# `messages`, and every row of `messages` created on those days is among them (all copies of
# a version share its creation_date, so the dedupe keeps the same copy). A question about a
# period (queries.AGENT_MESSAGES) filters on creation_date too and reads through it, so DuckDB
# opens the period's files instead of every committed file. The files' day bounds are the
# build's (internal._contents_thread_files), written into CONTENTS_KEYS_BETWEEN.
# The newest committed row per (content, attachment) of `rows`, with the message's channel,
# thread, direction and author (the `attachments` view; an examiner kit adds its `native`).
ATTACHMENTS = """
WITH latest AS (
    SELECT * FROM {rows}
    QUALIFY row_number() OVER (
        PARTITION BY source_id, content_id, id ORDER BY archived_at DESC, batch_id DESC) = 1
)
SELECT
    a.id, a.content_id, a.source_id, m.source_type, m.thread_id, m.direction,
    m.author_identity_id, m.author_name, m.agent_name,
    a.filename, a.content_type, a.declared_size, a.size, a.size_matches, a.sha256,
    a.object_key, a.creation_time, a.fetched_at, a.record_sha256, a.archived_at, a.run_id,
    a.batch_id{extra}
FROM latest AS a
LEFT JOIN messages AS m ON m.source_id = a.source_id AND m.id = a.content_id
"""
MESSAGES_BETWEEN = "internal.messages_between"
# The `flags` view's rows, materialised by the build (pipelines/catalog/build.py) in steps that
# each hold little in memory: every join's build side is the flags, never the contents. Only
# flags of a version `contents` still holds: a disposition deletes the contents files but the
# flags files (another table of the same batches) stay, and their excerpts are the message's
# words, so a flag of a disposed version leaves the view (and review_queue) with it. Without any
# disposition in the ledger that check is skipped (`FLAGS_KEPT_ALL`).
FLAGS_TABLE = "internal._flags"
FLAGS_KEPT = """
SELECT c.source_id, c.id, c.record_sha256 FROM contents AS c
SEMI JOIN internal._src_flags AS f
    ON f.source_id = c.source_id AND f.content_id = c.id AND f.content_sha256 = c.record_sha256
"""
FLAGS_KEPT_ALL = """
SELECT DISTINCT source_id, content_id AS id, content_sha256 AS record_sha256
FROM internal._src_flags
"""
FLAGS_NAMED = """
SELECT m.source_id, m.id, m.source_type, m.direction, m.author_name, m.agent_name
FROM messages AS m
SEMI JOIN internal._src_flags AS f ON f.source_id = m.source_id AND f.content_id = m.id
"""
FLAGS_ROWS = """
SELECT
    f.content_id, f.content_sha256, f.source_id, m.source_type, f.thread_id, f.creation_time,
    m.direction, m.author_name, m.agent_name, f.policy, f.kind, f.matched, f.excerpt,
    f.record_sha256, f.archived_at, f.run_id, f.batch_id
FROM internal._src_flags AS f
SEMI JOIN internal._flags_kept AS c
    ON c.source_id = f.source_id AND c.id = f.content_id AND c.record_sha256 = f.content_sha256
LEFT JOIN internal._flags_named AS m ON m.source_id = f.source_id AND m.id = f.content_id
"""
CONTENTS_KEYS_BETWEEN = "internal.contents_keys_between"

# `contents_latest` when the build found no superseded version (no message was edited): every
# version is its message's newest, so the anti join would keep every row; without it a full
# scan (reply_pairs, a term search) skips reading and hashing the four key columns of every row.
CONTENTS_LATEST_ALL = "SELECT * FROM {contents}"


def latest_body(contents: str, superseded: bool) -> str:
    """`contents_latest` over the relation `contents`: the anti join when the build found a
    superseded version, else every row."""
    return (CONTENTS_LATEST if superseded else CONTENTS_LATEST_ALL).format(contents=contents)


# Capture lag, defined once: the `capture_lag` view and `rc-archive sources`
# (pipelines/query/sources_status.py evaluates this same SQL over the ledger) both compute it from
#   newest_creation_time: the newest `creation_time` (RingCentral `creationTime`) archived for
#                         the source, and
#   last_committed_at:    when the source's last contents manifest was committed:
# lag_seconds is how far behind the archive was when it last committed (how old its newest
# message was then); seconds_since_commit is how long ago that commit was (a stalled source
# grows it). Their sum is how old the newest archived message is now. A quiet source, where
# nobody wrote, shows a growing lag too: the lag is measured against the messages archived.
# Format with now= the SQL of the current time.
CAPTURE_LAG_COLUMNS = """(epoch_ms(last_committed_at) - epoch_ms(newest_creation_time)) / 1000.0
        AS lag_seconds,
    (epoch_ms({now}) - epoch_ms(last_committed_at)) / 1000.0 AS seconds_since_commit"""


# Views in dependency order: name -> SQL body (after CREATE VIEW name AS). The `contents` body
# here is the general one; the build swaps in CONTENTS_PLAIN when it proves it equivalent.
VIEW_BODIES: dict[str, str] = {
    "contents": CONTENTS_DEDUPED,
    "contents_latest": CONTENTS_LATEST.format(contents="contents"),
    "identities_latest": """
SELECT * FROM internal._src_identities
QUALIFY row_number() OVER (
    PARTITION BY id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
""",
    "agents": """
SELECT * FROM internal._src_agents
QUALIFY row_number() OVER (
    PARTITION BY extension_id ORDER BY fetched_at DESC NULLS LAST, archived_at DESC, batch_id DESC
) = 1
""",
    "quarantine": "SELECT * FROM internal._src_quarantine",
    "messages": MESSAGES.format(latest="contents_latest"),
    # Each inbound message with the first outbound message that replies to it: the reply with
    # the smallest (creation_time, id). A hash aggregate instead of a row_number window (no sort
    # of every reply). The ordering key also carries source_id and thread_id, which makes it
    # unique per message row, so every arg_min_null picks its value from the same reply;
    # arg_min_null (not arg_min) keeps that reply's NULLs instead of skipping to another reply.
    # The columns every reply question reads (id, time, agent) come out of one arg_min_null
    # of a struct: one ordering-key comparison per row instead of four (half the aggregate's
    # time over 400,000 replies). The others stay separate aggregates, which DuckDB drops
    # when a query does not read them (e.g. reply_body for response times), so their files'
    # columns are never read.
    "reply_pairs": """
WITH first_replies AS (
    SELECT
        in_reply_to_content_id AS parent_id,
        arg_min_null(
            {'id': id, 'time': creation_time, 'agent_id': creator_id, 'agent_name': agent_name},
            (creation_time, id, source_id, thread_id)) AS first_reply,
        arg_min_null(author_identity_id, (creation_time, id, source_id, thread_id))
            AS reply_author_identity_id,
        arg_min_null(author_name, (creation_time, id, source_id, thread_id))
            AS reply_author_name,
        arg_min_null(body, (creation_time, id, source_id, thread_id)) AS reply_body
    FROM messages
    WHERE direction = 'outbound' AND in_reply_to_content_id IS NOT NULL
    GROUP BY in_reply_to_content_id
)
SELECT
    m.id AS inbound_id,
    m.source_id,
    m.source_type,
    m.thread_id,
    m.creation_time AS inbound_time,
    m.author_identity_id AS customer_identity_id,
    m.author_name AS customer_name,
    m.body AS inbound_body,
    r.first_reply.id AS reply_id,
    r.first_reply.time AS reply_time,
    r.first_reply.agent_id AS agent_id,
    r.first_reply.agent_name AS agent_name,
    r.reply_author_identity_id,
    r.reply_author_name,
    r.reply_body,
    (epoch_ms(r.first_reply.time) - epoch_ms(m.creation_time)) / 1000.0 AS response_seconds
FROM messages AS m
LEFT JOIN first_replies AS r ON r.parent_id = m.id
WHERE m.direction = 'inbound'
""",
    "threads": """
WITH per_thread AS (
    SELECT
        source_id,
        any_value(source_type) AS source_type,
        thread_id,
        arg_min(author_identity_id, creation_time) FILTER (WHERE direction = 'inbound')
            AS customer_identity_id,
        arg_min(author_name, creation_time) FILTER (WHERE direction = 'inbound')
            AS customer_name,
        arg_min(title, creation_time) FILTER (WHERE title IS NOT NULL) AS title,
        min(creation_time) AS first_message_time,
        max(creation_time) AS last_message_time,
        count(*) AS message_count,
        count(*) FILTER (WHERE direction = 'inbound') AS inbound_count,
        count(*) FILTER (WHERE direction = 'outbound') AS agent_replies,
        arg_max(id, creation_time) FILTER (WHERE direction = 'inbound') AS last_inbound_id,
        arg_max(direction, creation_time) AS last_direction
    FROM messages
    GROUP BY source_id, thread_id
)
SELECT
    t.source_id, t.source_type, t.thread_id, t.customer_identity_id, t.customer_name, t.title,
    t.first_message_time, t.last_message_time, t.message_count, t.inbound_count,
    t.agent_replies, t.last_inbound_id,
    CASE WHEN t.last_direction = 'outbound' OR r.reply_id IS NOT NULL
        THEN 'answered' ELSE 'open' END AS status
FROM per_thread AS t
LEFT JOIN reply_pairs AS r ON r.inbound_id = t.last_inbound_id
""",
    # One row per version after the first: what changed between consecutive versions.
    "edits": """
WITH versions AS (
    SELECT
        *,
        row_number() OVER w AS version_number,
        count(*) OVER (PARTITION BY source_id, thread_id, id) AS version_count,
        lag(status) OVER w AS previous_status,
        lag(body) OVER w AS previous_body,
        lag(remotely_deleted) OVER w AS previous_remotely_deleted,
        lag(last_modified_time) OVER w AS previous_last_modified_time
    FROM contents
    WINDOW w AS (
        PARTITION BY source_id, thread_id, id
        ORDER BY last_modified_time NULLS FIRST, archived_at, batch_id)
)
SELECT
    id, source_id, source_type, thread_id, creation_time, version_number, version_count,
    previous_last_modified_time, last_modified_time AS new_last_modified_time,
    previous_status, status AS new_status,
    previous_body, body AS new_body,
    previous_remotely_deleted, remotely_deleted AS new_remotely_deleted,
    previous_status IS DISTINCT FROM status AS status_changed,
    previous_body IS DISTINCT FROM body AS body_changed,
    previous_remotely_deleted IS DISTINCT FROM remotely_deleted AS deleted_changed,
    record_sha256, archived_at
FROM versions
WHERE version_number > 1
""",
    # The rows `contents` leaves out because they repeat an earlier version of their message
    # with only a re-signed attachment link (archived before version identities): still in
    # the archive and verified, shown here with the version they repeat.
    "transport_repeats": """
SELECT c.*, t.version_sha256
FROM internal._src_contents AS c
JOIN internal._contents_transport_repeats AS t
    ON c.id = t.id AND c.record_sha256 = t.record_sha256 AND c.source_id = t.source_id
""",
    "ledger": "SELECT * FROM internal._ledger_snapshot",
    # Each disposition (rc-archive disposition --execute): its manifest, who, why, how much.
    "dispositions": """
SELECT
    committed_at AS disposed_at,
    source_id,
    seq,
    disposal_json ->> 'user' AS "user",
    disposal_json ->> 'reason' AS reason,
    CAST(disposal_json ->> 'as_of' AS TIMESTAMPTZ) AS as_of,
    CAST(disposal_json ->> 'removed_files' AS BIGINT) AS removed_files,
    CAST(disposal_json ->> 'removed_rows' AS BIGINT) AS removed_rows,
    CAST(disposal_json ->> 'objects_deleted' AS BIGINT) AS objects_deleted,
    disposal_json ->> 'hashes_key' AS hashes_key,
    manifest_key,
    manifest_sha256
FROM internal._ledger_snapshot
WHERE kind = 'disposition'
""",
    # Capture lag per source: see CAPTURE_LAG_COLUMNS. The newest creation_time is taken from
    # the archived rows; the last commit is the newest batch manifest (highest seq, compactions
    # left out: they archive nothing new) of the source's contents ledger, as `rc-archive
    # sources` reads it.
    "capture_lag": f"""
WITH newest AS (
    SELECT source_id, max(creation_time) AS newest_creation_time, count(*) AS versions
    FROM contents GROUP BY source_id
), commits AS (
    SELECT source_id, arg_max(committed_at, seq) AS last_committed_at
    FROM internal._ledger_snapshot
    WHERE table_name = 'contents' AND kind = 'batch' GROUP BY source_id
)
SELECT
    source_id, n.newest_creation_time, c.last_committed_at, n.versions,
    {CAPTURE_LAG_COLUMNS.format(now="current_timestamp")}
FROM commits AS c FULL JOIN newest AS n USING (source_id)
""",
    # The attachment files the archive holds (docs/attachments.md): the newest committed row
    # per (content, attachment), with the message's channel, thread, direction and author.
    # A retried capture re-commits the same row (same record_sha256); a newer row for the same
    # attachment (e.g. the bytes fetched again after a refresh) replaces the older one. An
    # attachment listed in messages.attachments without a row here is not archived yet.
    "attachments": ATTACHMENTS.format(rows="internal._src_attachments", extra=""),
    # Supervision hits (pipelines/governance/policies.py): one row per flag, with who sent the
    # flagged message; rows materialised by the build (`_materialise_flags` in build.py), since
    # the review queue asks for its newest rows on every page.
    "flags": f"SELECT * FROM {FLAGS_TABLE}",
    # Reviewer decisions (pipelines/governance/review.py): every decision, newest last; a flag's
    # current decision is its newest (is_current).
    "review_decisions": """
SELECT
    *,
    row_number() OVER (PARTITION BY flag_id ORDER BY decision_key DESC) = 1 AS is_current
FROM internal._review_events
""",
    # The flags nobody has decided yet, newest message first: what `rc-archive review next`
    # shows. It reads `flags`, so a flag of a disposed version is not queued either.
    "review_queue": """
SELECT f.*
FROM flags AS f
ANTI JOIN internal._review_events AS r ON r.flag_id = f.record_sha256
""",
    # Governance (pipelines/governance, docs/governance.md): snapshots taken at build time of
    # the access trail and the hold records, which the build reads itself (no view reads them).
    "access_log": "SELECT * FROM internal._access_events",
    "holds": """
SELECT
    *,
    last_value(CASE WHEN action <> 'landed' THEN action END IGNORE NULLS) OVER (
        PARTITION BY matter ORDER BY record_key
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) = 'place' AS matter_active
FROM internal._hold_events
""",
}

PUBLIC_VIEWS = tuple(VIEW_BODIES)
