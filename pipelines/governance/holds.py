"""Legal holds: keep every archived object that holds a matter's records, until released.

Why objects and not records: the archive's unit of storage (and of S3 Object Lock) is a data
file, and a file holds many records. A hold on a selector (a source, a thread or an identity,
optionally within a creation-time range) therefore holds every committed data file that holds
at least one matching record: found through the audit catalog (pipelines/query/selection.py),
by DuckDB's `filename` virtual column of read_parquet over the catalog's live (committed)
files, on the catalog's locked, read-only connection. What lands later is held by the contents
sync as it commits (`hold_landed`, docs/governance.md).

Records. Each placement, release and landing is a write-once JSON record
`_holds/<matter>/<UTC time>-<place|release|landed>.json` (who, why, the selector, the object
keys, the previous decision's SHA-256 in the same matter). A matter is active when its newest
decision is a placement; its held objects are those of its placements (and landings) since its
last release.

The hold journal. Every record is also entered, with its key, its SHA-256 and a copy of its
body, in one hash-chained log of the whole archive, `_holds/_journal/<day>/<seq>.json`
(pipelines/governance/chained_log.py, witnessed like the access trail when
ARCHIVE_WITNESS_URI is set). So a hold record that is deleted (a whole matter's folder too) or
edited is tampering that `HoldRegister` reports (`rc-archive hold verify`, and `verify`), and
what it held is still known from the journal's copy. A placement or landing is journaled after
its record (a crash in between leaves a record that holds more, never less: `hold_unjournaled`,
not tampering); a release before its record (a crash in between leaves the matter active), so a
release the journal does not name is forged (`hold_forged`) and never ends a matter in the
audit. Records written before the journal existed (by earlier releases) are the legacy form:
checked by their per-matter chain only, until the first journal entry adopts them (names each
with its SHA-256).

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
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.archive import keys
from pipelines.archive.ledger import Manifest
from pipelines.archive.store import ObjectStore
from pipelines.archive.verify import NOT_TAMPERING, TAMPERING, Finding
from pipelines.archive.witnessing import LogWitness
from pipelines.governance.chained_log import (
    ChainedLog,
    StoredRecord,
    canonical_bytes,
    current_user,
)
from pipelines.settings import Settings

HOLDS_PREFIX = f"{keys.HOLDS_ROOT}/"
HOLD_FORMAT = "rc-archive/hold/1"
# The hash-chained journal of every hold record (a folder no matter can be named: a matter
# starts with a letter or a digit).
JOURNAL_PREFIX = keys.HOLDS_JOURNAL_PREFIX
JOURNAL_FORMAT = "rc-archive/hold-journal/1"
MATTER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# The data tables a hold can reach, and what its selector matches in each, are facts of the
# tables (TableSchema.hold; schemas.tables.HELD_TABLES).


class HoldError(ValueError):
    """Bad hold input (matter name, selector, nothing matched, nothing to release): exit 2."""


class HoldsTampered(RuntimeError):
    """The hold records are not intact (HoldRegister found tampering): a disposition refuses to
    delete anything (exit 3)."""

    tampering = True


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
    # --identity: the [source_id, thread_id] of the identity's conversations when the hold was
    # placed (query/selection.py, `identity_threads`), so a message landing in one is held too.
    threads: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.source, self.thread, self.identity, self.content_ids) if x]
        if len(given) != 1:
            raise HoldError("a hold names exactly one of --source, --thread, --identity or --query")
        if self.threads is not None and not self.identity:
            raise HoldError("only an --identity hold keeps the conversations it selected")
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
            **({"threads": [list(t) for t in self.threads]} if self.threads is not None else {}),
        }


def check_matter(matter: str) -> str:
    if not MATTER_PATTERN.match(matter or ""):
        raise HoldError(
            f"matter {matter!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names a folder under _holds/)"
        )
    return matter


DECISION_SUFFIXES = ("-place.json", "-release.json")
LANDED_SUFFIX = "-landed.json"
RECORD_SUFFIXES = (*DECISION_SUFFIXES, LANDED_SUFFIX)


def _matters(store: ObjectStore) -> list[str]:
    """The matters that have records: one delimited LIST of `_holds/` (the journal's folder,
    which no matter can be named, is left out)."""
    return [name for name in store.list_folders(HOLDS_PREFIX) if MATTER_PATTERN.match(name)]


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


def _read_any(store: ObjectStore, key: str) -> HoldRecord:
    """A stored record, its body {} when it is not JSON (the audit reports it)."""
    data = store.get(key)
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    return HoldRecord(key, hashlib.sha256(data).hexdigest(), body if isinstance(body, dict) else {})


def matter_records(store: ObjectStore, matter: str) -> list[HoldRecord]:
    return [_read(store, key) for key in _matter_keys(store, matter)]


def iter_hold_records(
    store: ObjectStore, known: Mapping[str, str] | None = None
) -> Iterator[HoldRecord]:
    """Every hold record after each matter's newest key in `known` (all when empty)."""
    known = known or {}
    for matter in _matters(store):
        for key in _matter_keys(store, matter, known.get(matter), RECORD_SUFFIXES):
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
    for matter in _matters(store):
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
    settings: Settings,
) -> HoldRecord:
    now = datetime.now(UTC)
    user, user_from = current_user(settings.user)
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
    record = HoldRecord(key, hashlib.sha256(data).hexdigest(), body)
    journal = hold_journal(store, settings)
    _adopt_legacy(store, journal)
    if action == "release":  # journaled first: a crash in between leaves the matter active
        _journal(journal, record)
        store.put(key, data, content_type="application/json")
    else:  # journaled after: a crash in between leaves a record that holds more, not less
        store.put(key, data, content_type="application/json")
        _journal(journal, record)
    return record


def hold_journal(store: ObjectStore, settings: Settings | None = None) -> ChainedLog:
    """The hold journal of the archive (witnessed when `settings` sets ARCHIVE_WITNESS_URI;
    None: a reader's, see `ChainedLog`)."""
    return ChainedLog(store, JOURNAL_PREFIX, JOURNAL_FORMAT, settings)


def _journal(journal: ChainedLog, record: HoldRecord) -> None:
    """One journal entry naming a hold record, with a copy of its body."""
    journal.append(
        {
            "entry": "record",
            "matter": record.body["matter"],
            "record_key": record.key,
            "record_sha256": record.sha256,
            "record": record.body,
        }
    )


def _adopt_legacy(store: ObjectStore, journal: ChainedLog) -> None:
    """Before the journal's first entry: one entry naming every hold record already stored
    (written by a release without the journal) with its SHA-256, so from then on deleting or
    editing one of them is tampering too. What their per-matter chains showed broken is kept in
    the entry (`chain_broken`), so adopting them does not hide it. Costs one LIST when the
    journal has begun."""
    if journal.head(datetime.now(UTC).strftime("%Y-%m-%d")) is not None:
        return
    legacy = [
        _read_any(store, key)
        for matter in _matters(store)
        for key in _matter_keys(store, matter, None, RECORD_SUFFIXES)
    ]
    if legacy:
        journal.append(
            {
                "entry": "adopt",
                "records": [{"key": r.key, "sha256": r.sha256} for r in legacy],
                "chain_broken": [
                    {"key": key, "detail": detail} for key, detail in _legacy_chain_breaks(legacy)
                ],
            }
        )


def adopt_legacy_holds(store: ObjectStore, settings: Settings) -> None:
    """Start the hold journal with the records stored before it (nothing when it has begun,
    or there are none): `disposition --execute` does, after its audit found nothing wrong.
    The entry is written as `settings.user` and witnessed as `settings` says."""
    _adopt_legacy(store, hold_journal(store, settings))


def _legacy_chain_breaks(records: list[HoldRecord]) -> list[tuple[str, str]]:
    """(key, why) for each decision of records from before the journal that does not chain
    to its matter's previous decision (prev_key, prev_sha256: all an earlier release wrote)."""
    by_matter: dict[str, list[HoldRecord]] = defaultdict(list)
    for record in records:
        if record.body and record.body.get("action") in ("place", "release"):
            by_matter[record.body.get("matter")].append(record)
    breaks = []
    for decisions in by_matter.values():
        previous: HoldRecord | None = None
        for record in sorted(decisions, key=lambda r: r.key):
            expected = (previous.key, previous.sha256) if previous else (None, None)
            if (record.body.get("prev_key"), record.body.get("prev_sha256")) != expected:
                breaks.append(
                    (
                        record.key,
                        f"names previous {record.body.get('prev_key')}; the matter's previous "
                        f"decision is {expected[0]}",
                    )
                )
            previous = record
    return breaks


def _set_hold(store: ObjectStore, key: str, on: bool) -> bool:
    setter = getattr(store, "set_legal_hold", None)
    if setter is None:
        raise HoldError(f"{store.describe()} cannot set legal holds")
    return bool(setter(key, on))


def place_hold(
    store: ObjectStore,
    settings: Settings,
    matter: str,
    selector: Selector,
    reason: str,
    object_keys: list[str],
) -> HoldRecord:
    """Hold `object_keys`, the committed objects holding a record `selector` matches (found by
    the caller in the catalog: query/selection.py `held_objects`); record it as
    `settings.user`, journaled and witnessed as `settings` says."""
    check_matter(matter)
    if not (reason or "").strip():
        raise HoldError("--reason is required: say why the records are held")
    keys = sorted(object_keys)
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
        settings,
    )


def release_hold(store: ObjectStore, settings: Settings, matter: str, reason: str) -> HoldRecord:
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
        settings,
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
    for matter in _matters(store):
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
    """The creation dates of the batch rows (an Arrow table of contents) a selector matches:
    as the placement selected them (query/selection.py), `identity` as its conversations (those
    it kept when placed, and those the identity writes in within the batch)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = {"source": "source_id", "thread": "thread_id", "identity": "author_identity_id"}
    mask = None
    for field_name, column_name in column.items():
        if selector.get(field_name):
            mask = pc.equal(rows.column(column_name), selector[field_name])
    if selector.get("identity"):
        own = pc.fill_null(mask, False)
        threads = pc.binary_join_element_wise(
            rows.column("source_id"), rows.column("thread_id"), "\x00"
        )
        known = {f"{source}\x00{thread}" for source, thread in selector.get("threads") or ()}
        known.update(t for t in threads.filter(own).to_pylist() if t is not None)
        mask = pc.or_(own, pc.is_in(threads, value_set=pa.array(sorted(known), pa.string())))
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
    settings: Settings,
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
                settings,
            )
        )
    return written


def hold_compacted(
    store: ObjectStore, manifests: Iterable[Manifest | None], settings: Settings
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
        written.append(_write_record(store, matter, "landed", [], fields, settings))
    return written


def list_holds(store: ObjectStore, audit: HoldRegister | None = None) -> list[tuple]:
    """(matter, status, since, by, objects, reason) per matter, from its decisions (the
    journal's copies included: a matter whose records were deleted is still listed)."""
    audit = audit or HoldRegister(store)
    rows = []
    for matter, events in sorted(audit.by_matter().items()):
        decisions = [e for e in events if e.action in ("place", "release")]
        if not decisions:
            continue
        held: set[str] = set()
        for event in decisions:
            held = set() if event.action == "release" else held | event.object_keys
        active = decisions[-1].action == "place"
        last = decisions[-1].body
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


# -- the audit: records against the journal ----------------------------------------------


@dataclass(frozen=True)
class HoldEvent:
    """One placement, landing or release as the audit counts it."""

    at: datetime
    key: str
    matter: str
    action: str  # place | landed | release
    object_keys: frozenset[str]
    body: dict[str, Any]


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _time(text: Any) -> datetime:
    """A record's `at`; one that does not parse counts as the earliest (it holds, then)."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return EARLIEST
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class HoldRegister:
    """Every hold record against the hold journal, read once: the findings, and the holds in
    force at any moment (`held_at`), from the journal's copies where a record is gone.

    Findings (kinds in pipelines/archive/verify.py): the journal's own chain (`chain_broken`,
    `seq_gap`, `hold_invalid`); a record it names that is gone (`hold_missing`) or holds other
    bytes (`hold_changed`); a release it does not name (`hold_forged`, which does not end the
    matter here); with a `witness`, the journal against it (`truncated`, `rewritten`,
    `witness_bypassed`). Not tampering: a placement or landing not journaled yet
    (`hold_unjournaled`, a crash; it holds), a journaled release whose record was never written
    (`hold_unfinished`, a crash; the matter stays active), and records from before the journal
    (`holds_legacy`, checked by their per-matter chain).

    Cost: one LIST per matter and per journal day, one GET per record and two per journal
    entry (chain, then content), plus the witness's journal entries. `verify`, `hold verify`,
    `hold list` and `disposition` pay it; runs never do."""

    def __init__(self, store: ObjectStore, witness: LogWitness | None = None) -> None:
        self.store = store
        self.findings: list[Finding] = []
        self.events: list[HoldEvent] = []
        self.records = 0
        self.journal_entries = 0
        self._read()
        if witness is not None:
            from pipelines.integrity.witness import compare_log

            self.findings += compare_log(store, witness, JOURNAL_PREFIX, witness.started_at)
        self.events.sort(key=lambda e: (e.at, e.key))

    @property
    def tampering(self) -> list[Finding]:
        return [f for f in self.findings if f.tampering]

    def _add(self, kind: str, key: str, detail: str) -> None:
        self.findings.append(Finding(kind, key, detail))

    def _read(self) -> None:
        journal = hold_journal(self.store)  # the witness is compared separately
        self.journal_entries, chain = journal.verify()
        for found in chain:
            kind = "hold_invalid" if found.kind == "event_invalid" else found.kind
            self._add(kind, found.key, f"hold journal: {found.detail}")
        entries = list(self._entries(journal))
        # record key -> (SHA-256, the journal entry naming it, its body if the entry copies it)
        named: dict[str, tuple[str, str, dict | None]] = {}
        for entry in entries:
            self._name(entry, named)
        present = self._stored_records()
        self.records = len(present)
        last_entry = entries[-1].key if entries else None
        unfinished: set[str] = set()
        for key, (sha, entry_key, body) in sorted(named.items()):
            record = present.get(key)
            what = _describe(body)
            crashed = bool(body) and body.get("action") == "release" and entry_key == last_entry
            if record is None and crashed:
                unfinished.add(key)
                self._add("hold_unfinished", key, NOT_TAMPERING["hold_unfinished"])
            elif record is None:
                self._add("hold_missing", key, f"{what}named by {entry_key}, gone from the archive")
            elif record.sha256 != sha:
                self._add(
                    "hold_changed", key, f"sha256 {record.sha256} != {sha} named by {entry_key}"
                )
        legacy = []
        for key, record in sorted(present.items()):
            if key in named:
                continue
            if not entries:
                legacy.append(record)
            elif (record.body or {}).get("action") == "release":
                self._add("hold_forged", key, TAMPERING["hold_forged"])
            else:
                self._add("hold_unjournaled", key, NOT_TAMPERING["hold_unjournaled"])
        if legacy:
            self._check_legacy_chains(legacy)
        # The holds in force: the journal's copy of each record it names, the stored body of
        # the records it adopted, and (over-retaining) placements and landings not journaled.
        for key, (_sha, _entry_key, body) in named.items():
            if key in unfinished:
                continue
            if body is None and key in present:
                body = present[key].body
            self._event(key, body)
        for key, record in present.items():
            if key in named:
                continue
            if entries and (record.body or {}).get("action") == "release":
                continue  # forged: it ends nothing
            self._event(key, record.body)

    def _entries(self, journal: ChainedLog) -> Iterator[StoredRecord]:
        """The journal's entries in chain order; one that is not a JSON object is skipped
        (the chain check reported it as `hold_invalid`)."""
        for day in journal.days():
            for key in journal.day_keys(day):
                data = self.store.get(key)
                try:
                    body = json.loads(data)
                except ValueError:
                    continue
                if isinstance(body, dict):
                    yield StoredRecord(key, hashlib.sha256(data).hexdigest(), body)

    def _name(self, entry: StoredRecord, named: dict) -> None:
        body = entry.body
        if body.get("entry") == "adopt":
            items = [i for i in body.get("records") or [] if isinstance(i, dict)]
            for item in items:
                named.setdefault(str(item.get("key")), (item.get("sha256"), entry.key, None))
            for item in body.get("chain_broken") or []:
                detail = f"before the hold journal (adopted by {entry.key}): {item.get('detail')}"
                self._add("chain_broken", str(item.get("key")), detail)
            return
        record, key, sha = body.get("record"), body.get("record_key"), body.get("record_sha256")
        if (
            body.get("entry") != "record"
            or not isinstance(record, dict)
            or not isinstance(key, str)
            or hashlib.sha256(canonical_bytes(record)).hexdigest() != sha
            or not key.startswith(f"{HOLDS_PREFIX}{record.get('matter')}/")
        ):
            self._add(
                "hold_invalid",
                entry.key,
                "hold journal entry is not a record copy that hashes to the SHA-256 it names",
            )
            return
        named[key] = (sha, entry.key, record)

    def _stored_records(self) -> dict[str, HoldRecord]:
        present: dict[str, HoldRecord] = {}
        for matter in _matters(self.store):
            for key in _matter_keys(self.store, matter, None, RECORD_SUFFIXES):
                data = self.store.get(key)
                sha = hashlib.sha256(data).hexdigest()
                try:
                    body = json.loads(data)
                    if not isinstance(body, dict):
                        raise ValueError("not an object")
                except ValueError as exc:
                    self._add("hold_invalid", key, f"not a hold record ({exc})")
                    body = None
                else:
                    if body.get("matter") != matter or not key.endswith(
                        f"-{body.get('action')}.json"
                    ):
                        self._add("hold_invalid", key, "its matter or action is not its key's")
                present[key] = HoldRecord(key, sha, body)
        return present

    def _check_legacy_chains(self, legacy: list[HoldRecord]) -> None:
        """Records from before the journal: each matter's decisions must chain."""
        for key, detail in _legacy_chain_breaks(legacy):
            self._add("chain_broken", key, detail)
        self._add(
            "holds_legacy",
            HOLDS_PREFIX,
            f"{len(legacy)} hold record(s) from before the hold journal: "
            + NOT_TAMPERING["holds_legacy"],
        )

    def _event(self, key: str, body: dict | None) -> None:
        if not body or body.get("action") not in ("place", "landed", "release"):
            return
        self.events.append(
            HoldEvent(
                _time(body.get("at")),
                key,
                str(body.get("matter")),
                body["action"],
                frozenset(body.get("object_keys") or ()),
                body,
            )
        )

    def by_matter(self) -> dict[str, list[HoldEvent]]:
        found: dict[str, list[HoldEvent]] = defaultdict(list)
        for event in self.events:
            found[event.matter].append(event)
        return dict(found)

    def held_at(self, moment: datetime) -> dict[str, str]:
        """object key -> a matter holding it at `moment` (every record up to it replayed: a
        release ends its matter's holds, a placement starts or extends them, a landing
        extends them)."""
        active: dict[str, bool] = {}
        held: dict[str, set[str]] = defaultdict(set)
        for event in self.events:
            if event.at > moment:
                break
            if event.action == "release":
                active[event.matter] = False
                held[event.matter] = set()
            else:
                held[event.matter] |= event.object_keys
                if event.action == "place":
                    active[event.matter] = True
        return {
            key: matter
            for matter in sorted(active, reverse=True)
            if active[matter]
            for key in held[matter]
        }

    def held_now(self) -> dict[str, str]:
        return self.held_at(LATEST)


def _describe(body: dict | None) -> str:
    if not body:
        return ""
    count = len(body.get("object_keys") or [])
    return f"the {body.get('action')} of matter {body.get('matter')} ({count} objects), "
