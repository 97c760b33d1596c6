"""The webhook event log: every notification, write-once, in the archive itself.

Layout (keys relative to the archive root, docs/webhooks.md):

    _events/<source_id or 'unknown'>/<YYYYMMDDTHHMMSSffffffZ>-<32 hex>.json

Why in the archive and not in a queue: the same store gives the same guarantees as the data
(write-once `put`, Object Lock on S3, fsync on a disk), an event survives a receiver or a
Dagster restart, and there is no extra service to run. Names sort by receipt time within a
source folder, so "what is new" is one listing after the last name processed.

Edited events (docs/webhooks.md, "An edited event"). The contents sync offers each event's
version to the archive once (the batch's cursor names the last event it read), so the version
an event carried ends in a committed, verified batch. The events stay: they are write-once and
Object Lock keeps them, so "delete once captured" is not possible, and an edit must be seen:

- with a witness (ARCHIVE_WITNESS_URI), the receiver witnesses each event (its SHA-256) before
  it answers 200; the sync offers only events whose bytes the witness confirms, and `verify`
  reports a witnessed event that is gone (`truncated`) or holds other bytes (`rewritten`);
- with or without one, `verify` checks every event the sync has already read against the
  archive: the version it carries must be one the source's ledger holds (`event_changed`
  otherwise), and every event must be a record as the receiver writes it (`event_invalid`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines import settings
from pipelines.archive import keys
from pipelines.archive.store import ObjectStore
from pipelines.archive.verify import Finding
from pipelines.archive.witnessing import LogWitness
from pipelines.ringcentral.endpoints import RECORD_SOURCE_FIELDS
from schemas.ids import source_stream, valid_source_keys

log = logging.getLogger(__name__)

EVENTS_PREFIX = f"{keys.EVENTS_ROOT}/"
UNKNOWN_SOURCE = "unknown"
EVENT_FORMAT = "rc-archive/webhook-event/1"
# The three social-messaging event filters (API notes §9); the receiver logs any event it is
# sent, these are the ones `rc-archive subscribe` asks for.
EVENT_FILTER_PREFIX = "/cx/social-messaging/v1/contents/"
EVENT_FILTERS = tuple(
    EVENT_FILTER_PREFIX + name for name in ("Imported", "Exported", "DiscussionInitiated")
)
_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"


@dataclass(frozen=True)
class LoggedEvent:
    key: str
    source_id: str
    received_at: datetime


def resource_of(notification: object) -> dict | None:
    """The content the notification carries (`body.resource`), or None."""
    if not isinstance(notification, dict):
        return None
    body = notification.get("body")
    resource = body.get("resource") if isinstance(body, dict) else None
    return resource if isinstance(resource, dict) else None


def source_of(notification: object) -> str:
    """The 24-hex source (channel) id the content names, or 'unknown' (never an unchecked
    value: it becomes part of an object key)."""
    resource = resource_of(notification) or {}
    for name in RECORD_SOURCE_FIELDS:
        value = resource.get(name)
        if isinstance(value, str):
            valid, _ = valid_source_keys([value])
            if valid:
                return valid[0]
    return UNKNOWN_SOURCE


def event_name(received_at: datetime) -> str:
    """`<UTC time to the microsecond>-<random>.json`: sorts by receipt time, never collides."""
    return f"{received_at.astimezone(UTC).strftime(_TIME_FORMAT)}-{uuid.uuid4().hex}.json"


def event_time(name_or_key: str) -> datetime | None:
    stamp = name_or_key.rsplit("/", 1)[-1].split("-", 1)[0]
    try:
        return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


class EventNotWitnessedError(OSError):
    """The event is stored but its witness entry could not be written: the receiver answers
    503, RingCentral delivers the notification again (a new, witnessed event)."""


def log_event(
    store: ObjectStore,
    notification: object,
    *,
    received_at: datetime | None = None,
    witness: LogWitness | None = None,
) -> LoggedEvent:
    """Write one notification as a new object (write-once; returns only once it is durable),
    then, with a `witness` (pipelines/integrity/witness.py), its SHA-256 there.

    The record keeps the notification as received (parsed JSON) and when it arrived; headers
    are not kept (the Verification-Token is a secret)."""
    received_at = received_at or datetime.now(UTC)
    source_id = source_of(notification)
    key = f"{EVENTS_PREFIX}{source_id}/{event_name(received_at)}"
    stamp = received_at.astimezone(UTC).isoformat(timespec="microseconds")
    record = {
        "format": EVENT_FORMAT,
        "received_at": stamp,
        "source_id": source_id,
        "event": notification.get("event") if isinstance(notification, dict) else None,
        "notification": notification,
    }
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    store.put(key, data, content_type="application/json")
    if witness is not None:
        try:
            witness.record_log(key, hashlib.sha256(data).hexdigest(), stamp)
        except Exception as exc:  # noqa: BLE001 (any witness failure: the sender retries)
            raise EventNotWitnessedError(
                f"event {key} stored, its witness entry not: {type(exc).__name__}"
            ) from exc
    return LoggedEvent(key, source_id, received_at)


def configured_witness(archive_settings: settings.Settings) -> LogWitness | None:
    """The witness of ARCHIVE_WITNESS_URI (None when unset), opened with `archive_settings`."""
    uri = (archive_settings.witness_uri or "").strip()
    if not uri:
        return None
    from pipelines.integrity.witness import Witness

    return Witness.open(uri, archive_settings)


def witnessed_sha256(witness: LogWitness, key: str) -> str | None:
    """The SHA-256 the witness recorded for the event at `key` (None: never witnessed)."""
    return witness.logged_sha256(key)


def read_event(store: ObjectStore, key: str) -> dict:
    return json.loads(store.get(key))


def event_sources(store: ObjectStore) -> list[str]:
    """Folders of the log: 24-hex source ids, and 'unknown' when some event named none."""
    return store.list_folders(EVENTS_PREFIX)


def events_after(store: ObjectStore, source_id: str, after: str | None = None) -> list[str]:
    """Keys of one source's events logged after the event name or key `after`, oldest first."""
    prefix = f"{EVENTS_PREFIX}{source_id}/"
    start = None if not after else (after if after.startswith(prefix) else prefix + after)
    return store.list_after(prefix, start)


def pending_event_versions(
    store: ObjectStore,
    source_id: str,
    after_key: str | None = None,
    witness: LogWitness | None = None,
) -> Iterator[dict]:
    """The content JSON of every event of `source_id` logged after `after_key`, oldest first,
    each notification once (RingCentral may deliver one twice: same `uuid`).

    These are API records (same shape as a contents page), so the contents sync can put them
    through its version check and normaliser like any page; versions it already holds are
    dropped there. With a `witness`, see `_versions_of`."""
    return _versions_of(store, events_after(store, source_id, after_key), witness)


def _versions_of(store: ObjectStore, keys: list[str], witness: LogWitness | None) -> Iterator[dict]:
    """The versions the events at `keys` carry. With a `witness` (the archive's, of
    ARCHIVE_WITNESS_URI), only events whose bytes it recorded are offered: an event edited (or
    planted) after the receiver stored it never becomes an archived version (skipped with a
    warning; `verify` names it). An event the receiver stored without its witness entry was
    answered 503 and delivered again, so skipping it loses nothing."""
    seen: set[str] = set()
    for key in keys:
        data = store.get(key)
        if witness is not None:
            expected = witnessed_sha256(witness, key)
            if expected != hashlib.sha256(data).hexdigest():
                log.warning(
                    "webhook event %s skipped: %s; `rc-archive verify` names it",
                    key,
                    "the witness has no entry for it"
                    if expected is None
                    else "its bytes are not the ones the witness recorded",
                )
                continue
        notification = json.loads(data).get("notification")
        note_id = notification.get("uuid") if isinstance(notification, dict) else None
        if isinstance(note_id, str):
            if note_id in seen:
                continue
            seen.add(note_id)
        resource = resource_of(notification)
        if resource is not None:
            yield resource


# The contents cursor key holding the name of the last event the sync offered to the archive.
EVENT_KEY = "event_key"


def event_versions_since(
    store: ObjectStore,
    source_id: str,
    after_name: str | None = None,
    witness: LogWitness | None = None,
) -> tuple[list[dict], str | None]:
    """(the event versions of `source_id` after `after_name`, the name of the last event read)
    for the contents sync's hook: it saves that name in its cursor as `event_key` with the
    batch, so each event's version is offered to the version check once. With a `witness`,
    only the events it confirms (`_versions_of`)."""
    keys = events_after(store, source_id, after_name)
    if not keys:
        return [], after_name
    return list(_versions_of(store, keys, witness)), keys[-1].rsplit("/", 1)[-1]


# -- verify ----------------------------------------------------------------------------------

# Findings of `verify_events` that are tampering beside verify's own (pipelines/archive/verify.py).
EVENT_TAMPERING = {
    "event_changed": "a webhook event the sync already read carries a version the archive "
    "does not hold: it was edited after its version was archived",
    "event_invalid": "an object under _events/ is not an event as the receiver writes it",
}


@dataclass(frozen=True)
class EventFinding(Finding):
    """A finding about the webhook event log, reported by `rc-archive verify`."""

    @property
    def tampering(self) -> bool:
        return self.kind in EVENT_TAMPERING or super().tampering


def verify_events(store: ObjectStore, witness: LogWitness | None = None) -> list[Finding]:
    """Check the webhook event log (`rc-archive verify`).

    - Every object under `_events/` is an event record as `log_event` writes it: the format,
      its folder is the source its content names (or `unknown`), its name is its receipt time
      (`event_invalid`).
    - Every event the contents sync has read (its name is at or before the `event_key` in the
      cursor of the source's newest contents manifest) carries a version the source's ledger
      holds, archived or quarantined; the version index keeps the hashes of disposed rows too
      (`event_changed`). An edit made after the sync read an event is seen without a witness.
    - With a `witness`: each event the witness recorded is still there (`truncated`) with the
      same bytes (`rewritten`); an event it has no entry for is `unwitnessed` (not tampering:
      received before the witness was set up, or stored by a receiver that then answered 503;
      the sync did not offer it).

    Cost: one LIST of `_events/` and one GET per event; per source with read events, its
    version index (as a run loads it); with a witness, one LIST and GET per witness entry."""
    from pipelines.archive.ledger import Ledger

    findings: list[Finding] = []
    event_keys = [key for key in store.list(EVENTS_PREFIX) if key.endswith(".json")]
    witnessed: dict[str, str] = witness.log_entries(EVENTS_PREFIX) if witness else {}
    valid: dict[str, list[tuple[str, dict]]] = {}
    doubtful: set[str] = set()  # reported already against the witness
    for key in event_keys:
        data = store.get(key)
        if witness is not None:
            sha = hashlib.sha256(data).hexdigest()
            if key not in witnessed:
                findings.append(EventFinding("unwitnessed", key, _UNWITNESSED))
                doubtful.add(key)
            elif witnessed[key] != sha:
                findings.append(
                    EventFinding("rewritten", key, f"sha256 {sha} != witnessed {witnessed[key]}")
                )
                doubtful.add(key)
        problem, record = _event_problem(key, data)
        if problem is not None:
            findings.append(EventFinding("event_invalid", key, problem))
            continue
        valid.setdefault(key[len(EVENTS_PREFIX) :].split("/", 1)[0], []).append((key, record))
    present = set(event_keys)
    for key in sorted(set(witnessed) - present):
        findings.append(EventFinding("truncated", key, "witnessed webhook event, gone"))
    ledger = Ledger(store)
    for source_id, events in sorted(valid.items()):
        if source_id == UNKNOWN_SOURCE:
            continue  # no source: the sync never reads these
        last = _last_read(ledger, source_id)
        read = [
            (key, record)
            for key, record in events
            if key not in doubtful and last is not None and key.rsplit("/", 1)[-1] <= last
        ]
        if read:
            findings += _unarchived_versions(ledger, source_id, read)
    return findings


_UNWITNESSED = (
    "webhook event the witness has no entry for (received before the witness was set up, or "
    "its witness write failed and the receiver answered 503); the sync does not offer it"
)


def _event_problem(key: str, data: bytes) -> tuple[str | None, dict]:
    """Why the object at `key` is not an event record as the receiver writes it, or None."""
    try:
        record = json.loads(data)
    except ValueError:
        return "not JSON", {}
    if not isinstance(record, dict) or record.get("format") != EVENT_FORMAT:
        return f"not a {EVENT_FORMAT} record", {}
    folder = key[len(EVENTS_PREFIX) :].split("/", 1)[0]
    if record.get("source_id") != folder or source_of(record.get("notification")) != folder:
        return f"its content names source {source_of(record.get('notification'))}", record
    try:
        received = datetime.fromisoformat(str(record.get("received_at")))
    except ValueError:
        return "its received_at is not a time", record
    if event_time(key) != received.astimezone(UTC):
        return "its name is not its receipt time", record
    return None, record


def _last_read(ledger: Any, source_id: str) -> str | None:
    """The name of the last event the contents sync has read for a source: the `event_key` of
    its newest contents manifest (events at or before it were offered to a committed batch)."""
    head = ledger.head("contents", source_stream(source_id))
    return (head.cursor.get(EVENT_KEY) if head is not None else None) or None


def _unarchived_versions(
    ledger: Any, source_id: str, events: list[tuple[str, dict]]
) -> list[Finding]:
    from pipelines.archive.versions import ArchivedVersions

    archived = ArchivedVersions.load(ledger, "contents", source_stream(source_id))
    findings: list[Finding] = []
    for key, record in events:
        resource = resource_of(record.get("notification"))
        if resource is None:
            continue  # it carried no content: nothing was archived from it
        digest = archived.version_sha256(resource)
        if digest in archived.quarantined or archived.has_versions([digest])[0]:
            continue
        findings.append(
            EventFinding(
                "event_changed",
                key,
                f"the contents sync read this event, and the archive holds no version "
                f"{digest[:12]} of content {resource.get('id')!r}: the event was edited after "
                "its version was archived",
            )
        )
    return findings
