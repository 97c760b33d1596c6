"""The SQL of the audit views, over relations that read committed files only.

Why the window partitions carry more columns than the key: a content's channel and thread never
change between versions (the API has no "move"), so partitioning by (source_id, thread_id, id)
is the same as by id, and it lets DuckDB push a thread or channel filter below the window,
which keeps `thread_transcript` in milliseconds on a large archive.
"""

from __future__ import annotations

# Views in dependency order: name -> SQL body (after CREATE VIEW name AS).
VIEW_BODIES: dict[str, str] = {
    # Every archived version, once: a retried batch can only add an identical (id, hash) row,
    # which is dropped here keeping the first archived copy.
    "contents": """
SELECT * FROM _src_contents
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id, record_sha256 ORDER BY archived_at, batch_id) = 1
""",
    "contents_latest": """
SELECT * FROM contents
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
""",
    "identities_latest": """
SELECT * FROM _src_identities
QUALIFY row_number() OVER (
    PARTITION BY id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
""",
    "agents": """
SELECT * FROM _src_agents
QUALIFY row_number() OVER (
    PARTITION BY extension_id ORDER BY fetched_at DESC NULLS LAST, archived_at DESC, batch_id DESC
) = 1
""",
    "quarantine": "SELECT * FROM _src_quarantine",
    # The newest version of each message, with who wrote it (identity) and which agent sent it
    # (extension behind creatorId); the names denormalised at archive time are the fallback.
    "messages": """
SELECT
    c.*,
    coalesce(i.display_name, c.author_display_name) AS author_name,
    i.identity_type AS author_identity_type,
    coalesce(a.name, c.creator_name) AS agent_name,
    coalesce(a.extension_number, c.creator_extension_number) AS agent_extension_number,
    coalesce(a.email, c.creator_email) AS agent_email,
    coalesce(len(c.attachments), 0) AS attachment_count
FROM contents_latest AS c
LEFT JOIN identities_latest AS i ON i.id = c.author_identity_id
LEFT JOIN agents AS a ON a.extension_id = c.creator_id
""",
    # Each inbound message with the first outbound message that replies to it.
    "reply_pairs": """
WITH first_replies AS (
    SELECT
        in_reply_to_content_id AS parent_id,
        id AS reply_id,
        creation_time AS reply_time,
        creator_id AS reply_agent_id,
        agent_name AS reply_agent_name,
        author_identity_id AS reply_author_identity_id,
        author_name AS reply_author_name,
        body AS reply_body
    FROM messages
    WHERE direction = 'outbound' AND in_reply_to_content_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY in_reply_to_content_id ORDER BY creation_time, id) = 1
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
    r.reply_id,
    r.reply_time,
    r.reply_agent_id AS agent_id,
    r.reply_agent_name AS agent_name,
    r.reply_author_identity_id,
    r.reply_author_name,
    r.reply_body,
    (epoch_ms(r.reply_time) - epoch_ms(m.creation_time)) / 1000.0 AS response_seconds
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
    "ledger": "SELECT * FROM _ledger_snapshot",
    # lag_seconds: how long after the newest archived message its source was last committed;
    # seconds_since_commit: how old that commit is now (a stalled source grows it).
    "capture_lag": """
WITH newest AS (
    SELECT source_id, max(creation_time) AS newest_creation_time, count(*) AS versions
    FROM contents GROUP BY source_id
), commits AS (
    SELECT source_id, max(committed_at) AS last_committed_at
    FROM _ledger_snapshot WHERE table_name = 'contents' GROUP BY source_id
)
SELECT
    source_id, n.newest_creation_time, c.last_committed_at, n.versions,
    (epoch_ms(c.last_committed_at) - epoch_ms(n.newest_creation_time)) / 1000.0 AS lag_seconds,
    (epoch_ms(current_timestamp) - epoch_ms(c.last_committed_at)) / 1000.0
        AS seconds_since_commit
FROM commits AS c FULL JOIN newest AS n USING (source_id)
""",
}

PUBLIC_VIEWS = tuple(VIEW_BODIES)
