"""The webhook event log: every notification, write-once, in the archive itself.

Layout (keys relative to the archive root, docs/webhooks.md):

    _events/<source_id or 'unknown'>/<YYYYMMDDTHHMMSSffffffZ>-<32 hex>.json

Why in the archive and not in a queue: the same store gives the same guarantees as the data
(write-once `put`, Object Lock on S3, fsync on a disk), an event survives a receiver or a
Dagster restart, and there is no extra service to run. Names sort by receipt time within a
source folder, so "what is new" is one listing after the last name processed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.archive import keys
from pipelines.archive.store import ObjectStore
from pipelines.ringcentral.endpoints import RECORD_SOURCE_FIELDS
from schemas.ids import valid_source_keys

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


def log_event(
    store: ObjectStore, notification: object, *, received_at: datetime | None = None
) -> LoggedEvent:
    """Write one notification as a new object (write-once; returns only once it is durable).

    The record keeps the notification as received (parsed JSON) and when it arrived; headers
    are not kept (the Verification-Token is a secret)."""
    received_at = received_at or datetime.now(UTC)
    source_id = source_of(notification)
    key = f"{EVENTS_PREFIX}{source_id}/{event_name(received_at)}"
    record = {
        "format": EVENT_FORMAT,
        "received_at": received_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "source_id": source_id,
        "event": notification.get("event") if isinstance(notification, dict) else None,
        "notification": notification,
    }
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    store.put(key, data, content_type="application/json")
    return LoggedEvent(key, source_id, received_at)


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
    store: ObjectStore, source_id: str, after_key: str | None = None
) -> Iterator[dict]:
    """The content JSON of every event of `source_id` logged after `after_key`, oldest first,
    each notification once (RingCentral may deliver one twice: same `uuid`).

    These are API records (same shape as a contents page), so the contents sync can put them
    through its version check and normaliser like any page; versions it already holds are
    dropped there."""
    return _versions_of(store, events_after(store, source_id, after_key))


def _versions_of(store: ObjectStore, keys: list[str]) -> Iterator[dict]:
    seen: set[str] = set()
    for key in keys:
        notification = read_event(store, key).get("notification")
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
    store: ObjectStore, source_id: str, after_name: str | None = None
) -> tuple[list[dict], str | None]:
    """(the event versions of `source_id` after `after_name`, the name of the last event read)
    for the contents sync's hook: it saves that name in its cursor as `event_key` with the
    batch, so each event's version is offered to the version check once."""
    keys = events_after(store, source_id, after_name)
    if not keys:
        return [], after_name
    return list(_versions_of(store, keys)), keys[-1].rsplit("/", 1)[-1]
