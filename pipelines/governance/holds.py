"""Legal holds: keep every archived object that holds a matter's records, until released.

Why objects and not records: the archive's unit of storage (and of S3 Object Lock) is a data
file, and a file holds many records. A hold on a selector (a source, a thread or an identity,
optionally within a creation-time range) therefore holds every committed data file that holds
at least one matching record: found through the audit catalog, by DuckDB's `filename` virtual
column of read_parquet over the catalog's live (committed) files, on the catalog's locked,
read-only connection. What lands later is held by the contents sync as it commits
(`hold_landed`, docs/governance.md).

Records. Each placement and each release is a write-once JSON record
`_holds/<matter>/<UTC time>-<place|release>.json` (who, why, the selector, the object keys, the
previous record's SHA-256 in the same matter). A matter is active when its newest record is a
placement; its held objects are those of its placements since its last release.

Order. A placement sets the legal holds first and writes its record after (a crash in between
leaves objects held without a record: over-retention, never under). A release turns the hold
OFF only on objects no other active matter holds, then records which it released and which it
kept. On S3 the hold is the Object Lock legal hold (PutObjectLegalHold); a local directory
cannot lock a file, so there the record is the hold (`lock_applied` false) and the archive,
which never deletes, keeps the files anyway.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.archive import keys
from pipelines.archive.ledger import Manifest
from pipelines.archive.store import ObjectStore
from pipelines.governance.chained_log import StoredRecord, canonical_bytes, current_user

HOLDS_PREFIX = f"{keys.HOLDS_ROOT}/"
HOLD_FORMAT = "rc-archive/hold/1"
MATTER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Data tables a hold can reach, and the column naming a record's identity in each.
HELD_TABLES = ("contents", "identities")


class HoldError(ValueError):
    """Bad hold input (matter name, selector, nothing matched, nothing to release): exit 2."""


# A stored hold record: (key, SHA-256 of its bytes, parsed body), as every chained record.
HoldRecord = StoredRecord


@dataclass(frozen=True)
class Selector:
    source: str | None = None
    thread: str | None = None
    identity: str | None = None
    from_: datetime | None = None
    to: datetime | None = None
    # --query: the message ids its SQL returned (fixed when the hold is placed), and the SQL
    content_ids: tuple[str, ...] | None = None
    query: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.source, self.thread, self.identity, self.content_ids) if x]
        if len(given) != 1:
            raise HoldError("a hold names exactly one of --source, --thread, --identity or --query")
        if self.from_ and self.to and self.from_ >= self.to:
            raise HoldError("--from must be before --to")

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "thread": self.thread,
            "identity": self.identity,
            "from": self.from_.isoformat() if self.from_ else None,
            "to": self.to.isoformat() if self.to else None,
            **(
                {"query": self.query, "content_ids": list(self.content_ids)}
                if self.content_ids
                else {}
            ),
        }


def check_matter(matter: str) -> str:
    if not MATTER_PATTERN.match(matter or ""):
        raise HoldError(
            f"matter {matter!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names a folder under _holds/)"
        )
    return matter


def _contents_filter(selector: Selector) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if selector.source:
        clauses.append("source_id = $source")
        params["source"] = selector.source
    if selector.thread:
        clauses.append("thread_id = $thread")
        params["thread"] = selector.thread
    if selector.identity:
        clauses.append("author_identity_id = $identity")
        params["identity"] = selector.identity
    if selector.content_ids:
        clauses.append("list_contains($ids, id)")
        params["ids"] = list(selector.content_ids)
    if selector.from_:
        clauses.append("creation_time >= $from_")
        params["from_"] = selector.from_
    if selector.to:
        clauses.append("creation_time < $to")
        params["to"] = selector.to
    return " AND ".join(clauses), params


def _identities_filter(selector: Selector) -> tuple[str, dict[str, Any]] | None:
    """Identity records a selector holds: the identity itself, or a whole source's (no time
    range applies to them); a thread holds only its messages."""
    if selector.identity:
        return "id = $identity", {"identity": selector.identity}
    if selector.source and not (selector.from_ or selector.to):
        return "source_id = $source", {"source": selector.source}
    return None


def held_objects(audit_db: str, env: Mapping[str, str], selector: Selector) -> list[str]:
    """Keys (relative to the archive root) of the committed data files holding at least one
    record the selector matches. Reads the catalog's live-file list and those files, on the
    read-only locked connection (`connection.connect`)."""
    from pipelines.audit.catalog import _uri_list_sql
    from pipelines.audit.connection import ARCHIVE_ROOT_VARIABLE, INTERNAL_SCHEMA, connect

    conn = connect(audit_db, env)
    try:
        root = conn.execute(f"SELECT getvariable('{ARCHIVE_ROOT_VARIABLE}')").fetchone()[0]
        found: set[str] = set()
        for table in HELD_TABLES:
            keys = [
                row[0]
                for row in conn.execute(
                    f"SELECT key FROM {INTERNAL_SCHEMA}._live_files WHERE table_name = $t "
                    "ORDER BY key",
                    {"t": table},
                ).fetchall()
            ]
            if not keys:
                continue
            where = (
                _contents_filter(selector) if table == "contents" else _identities_filter(selector)
            )
            if where is None:
                continue
            clause, params = where
            files = _uri_list_sql([root + key for key in keys])
            rows = conn.execute(
                f"SELECT DISTINCT filename FROM read_parquet({files}, union_by_name = true) "
                f"WHERE {clause}",
                params,
            ).fetchall()
            found.update(row[0][len(root) :] for row in rows)
    finally:
        conn.close()
    return sorted(found)


DECISION_SUFFIXES = ("-place.json", "-release.json")
LANDED_SUFFIX = "-landed.json"


def _matter_keys(
    store: ObjectStore,
    matter: str,
    after: str | None = None,
    suffixes: tuple[str, ...] = DECISION_SUFFIXES,
) -> list[str]:
    return [
        key for key in store.list_after(f"{HOLDS_PREFIX}{matter}/", after) if key.endswith(suffixes)
    ]


def _read(store: ObjectStore, key: str) -> HoldRecord:
    data = store.get(key)
    return HoldRecord(key, hashlib.sha256(data).hexdigest(), json.loads(data))


def matter_records(store: ObjectStore, matter: str) -> list[HoldRecord]:
    return [_read(store, key) for key in _matter_keys(store, matter)]


def iter_hold_records(
    store: ObjectStore, known: Mapping[str, str] | None = None
) -> Iterator[HoldRecord]:
    """Every hold record after each matter's newest key in `known` (all when empty)."""
    known = known or {}
    every = (*DECISION_SUFFIXES, LANDED_SUFFIX)
    for matter in store.list_folders(HOLDS_PREFIX):
        for key in _matter_keys(store, matter, known.get(matter), every):
            yield _read(store, key)


def _state(records: list[HoldRecord]) -> tuple[bool, set[str]]:
    """(active, objects held) of one matter from its records, oldest first."""
    held: set[str] = set()
    for record in records:
        if record.body.get("action") == "release":
            held = set()
        else:
            held |= set(record.body.get("object_keys") or [])
    active = bool(records) and records[-1].body.get("action") == "place"
    return active, held


def active_holds(store: ObjectStore) -> dict[str, set[str]]:
    """matter -> objects it holds (its placements' and those held as they landed), for every
    active matter (read from the records now, not from the catalog: a release must see every
    placement)."""
    result = {}
    for matter in store.list_folders(HOLDS_PREFIX):
        records = matter_records(store, matter)
        active, held = _state(records)
        if active:
            result[matter] = held | _landed_since(store, matter, _last_release(records))
    return result


def _write_record(
    store: ObjectStore,
    matter: str,
    action: str,
    previous: list[HoldRecord],
    fields: Mapping[str, Any],
    env: Mapping[str, str],
) -> HoldRecord:
    now = datetime.now(UTC)
    user, user_from = current_user(env)
    body = {
        "format": HOLD_FORMAT,
        "matter": matter,
        "action": action,
        "at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "user": user,
        "user_from": user_from,
        **fields,
        "prev_key": previous[-1].key if previous else None,
        "prev_sha256": previous[-1].sha256 if previous else None,
    }
    data = canonical_bytes(body)
    key = f"{HOLDS_PREFIX}{matter}/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{action}.json"
    store.put(key, data, content_type="application/json")
    return HoldRecord(key, hashlib.sha256(data).hexdigest(), body)


def _set_hold(store: ObjectStore, key: str, on: bool) -> bool:
    setter = getattr(store, "set_legal_hold", None)
    if setter is None:
        raise HoldError(f"{store.describe()} cannot set legal holds")
    return bool(setter(key, on))


def place_hold(
    store: ObjectStore,
    audit_db: str,
    env: Mapping[str, str],
    matter: str,
    selector: Selector,
    reason: str,
) -> HoldRecord:
    """Hold every committed object holding a record `selector` matches; record it."""
    check_matter(matter)
    if not (reason or "").strip():
        raise HoldError("--reason is required: say why the records are held")
    keys = held_objects(audit_db, env, selector)
    if not keys:
        raise HoldError(
            f"no committed record matches {json.dumps(selector.as_json(), sort_keys=True)} in "
            "the audit catalog; check the id, or run `rc-archive catalog` if it was archived "
            "since the last build"
        )
    applied = [_set_hold(store, key, True) for key in keys]
    previous = matter_records(store, matter)
    return _write_record(
        store,
        matter,
        "place",
        previous,
        {
            "reason": reason,
            "selector": selector.as_json(),
            "object_keys": keys,
            "lock_applied": all(applied),
        },
        env,
    )


def release_hold(
    store: ObjectStore, env: Mapping[str, str], matter: str, reason: str
) -> HoldRecord:
    """Release `matter`: the legal hold goes OFF on its objects that no other active matter
    holds; the release record lists both sets."""
    check_matter(matter)
    if not (reason or "").strip():
        raise HoldError("--reason is required: say why the hold ends")
    records = matter_records(store, matter)
    active, held = _state(records)
    if not active:
        raise HoldError(f"matter {matter!r} has no active hold (`rc-archive hold list`)")
    held |= _landed_since(store, matter, _last_release(records))
    others: set[str] = set()
    for other, held_keys in active_holds(store).items():
        if other != matter:
            others |= held_keys
    released = sorted(held - others)
    kept = sorted(held & others)
    applied = [_set_hold(store, key, False) for key in released]
    return _write_record(
        store,
        matter,
        "release",
        records,
        {
            "reason": reason,
            "selector": None,
            "object_keys": sorted(held),
            "released_keys": released,
            "kept_keys": kept,
            "lock_applied": all(applied) if applied else None,
        },
        env,
    )


def _last_release(records: list[HoldRecord]) -> str | None:
    releases = [r.key for r in records if r.body.get("action") == "release"]
    return releases[-1] if releases else None


def _landed_since(store: ObjectStore, matter: str, after: str | None) -> set[str]:
    """Objects held as their messages landed since `after` (a release's key; None: ever)."""
    held: set[str] = set()
    for key in _matter_keys(store, matter, after, (LANDED_SUFFIX,)):
        held |= set(_read(store, key).body.get("object_keys") or [])
    return held


@dataclass(frozen=True)
class ActiveMatter:
    """A matter in force: its placements since its last release (the selectors that new
    messages are tested against as they land)."""

    matter: str
    placements: tuple[HoldRecord, ...]


def active_matters(store: ObjectStore) -> list[ActiveMatter]:
    """Every active matter with its placements. Reads one LIST of `_holds/` and each matter's
    placement and release records: people's decisions, few, never the landed records a long
    matter accumulates run after run."""
    found = []
    for matter in store.list_folders(HOLDS_PREFIX):
        records = matter_records(store, matter)
        if not records or records[-1].body.get("action") != "place":
            continue
        since = _last_release(records)
        placements = tuple(
            r
            for r in records
            if r.body.get("action") == "place" and (since is None or r.key > since)
        )
        found.append(ActiveMatter(matter, placements))
    return found


def _matching_days(selector: Mapping[str, Any], rows: Any) -> set[Any]:
    """The creation dates of the batch rows (an Arrow table of contents) a selector matches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = {"source": "source_id", "thread": "thread_id", "identity": "author_identity_id"}
    mask = None
    for field_name, column_name in column.items():
        if selector.get(field_name):
            mask = pc.equal(rows.column(column_name), selector[field_name])
    if selector.get("content_ids"):  # a --query hold: new versions of the messages it held
        mask = pc.is_in(rows.column("id"), value_set=pa.array(selector["content_ids"]))
    if mask is None:
        return set()
    for bound, compare in (("from", pc.greater_equal), ("to", pc.less)):
        if selector.get(bound):
            moment = datetime.fromisoformat(selector[bound])
            mask = pc.and_(mask, compare(rows.column("creation_time"), moment))
    matched = rows.filter(pc.fill_null(mask, False))
    return set(matched.column("creation_date").to_pylist())


def hold_landed(
    store: ObjectStore,
    matters: list[ActiveMatter],
    rows: Any,
    files: Mapping[Any, str],
    env: Mapping[str, str],
) -> list[HoldRecord]:
    """Hold the files of a just-committed batch that hold a message an active matter selects.

    `rows` is the batch's contents table and `files` maps each creation date to the committed
    file of that day (a batch writes one contents file per day). Each matter with a match gets
    the legal hold on those files and one `<time>-landed.json` record naming them and the
    placements whose selectors matched (not chained to the matter's decisions: a long matter's
    landed records must not be read back by every run; a release reads them)."""
    written = []
    for active in matters:
        days: set[Any] = set()
        extends = []
        for placement in active.placements:
            matched = _matching_days(placement.body.get("selector") or {}, rows)
            if matched:
                days |= matched
                extends.append(placement.key)
        object_keys = sorted({files[day] for day in days if day in files})
        if not object_keys:
            continue
        applied = [_set_hold(store, key, True) for key in object_keys]
        written.append(
            _write_record(
                store,
                active.matter,
                "landed",
                [],
                {
                    "reason": "new messages matching the matter's selector landed",
                    "extends": extends,
                    "selector": None,
                    "object_keys": object_keys,
                    "lock_applied": all(applied),
                },
                env,
            )
        )
    return written


def hold_compacted(
    store: ObjectStore, manifests: Iterable[Manifest | None], env: Mapping[str, str]
) -> list[HoldRecord]:
    """A compaction's output holds the rows of its inputs: each active matter holding an input
    holds the output too (legal hold on, a `landed` record naming it, so a release turns it
    off). Reads the hold records once; nothing when no compaction ran or no matter is active."""
    done = [m for m in manifests if m is not None and m.is_compaction]
    if not done:
        return []
    written = []
    for matter, held in active_holds(store).items():
        outputs = sorted(
            {e.key for m in done if held & {i.key for i in m.replaces} for e in m.files}
        )
        if not outputs:
            continue
        applied = [_set_hold(store, key, True) for key in outputs]
        fields = {
            "reason": "compacted from files the matter holds",
            "extends": [],
            "selector": None,
            "object_keys": outputs,
            "lock_applied": all(applied),
        }
        written.append(_write_record(store, matter, "landed", [], fields, env))
    return written


def list_holds(store: ObjectStore) -> list[tuple]:
    """(matter, status, since, by, objects, reason) per matter, from the records now."""
    rows = []
    for matter in store.list_folders(HOLDS_PREFIX):
        records = matter_records(store, matter)
        if not records:
            continue
        active, held = _state(records)
        last = records[-1].body
        rows.append(
            (
                matter,
                "active" if active else "released",
                last.get("at"),
                last.get("user"),
                len(held) if active else 0,
                last.get("reason"),
            )
        )
    return rows
