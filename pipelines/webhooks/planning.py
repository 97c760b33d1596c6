"""What the webhook sensor launches: one run per source with new events, never two at once.

Plain functions over the event log and a set of busy sources, so they are tested without
Dagster; `assets/sensors.py` (`webhook_events`) only reads the instance and wraps the plan.

Cursor: a JSON object {source_id: name of the last event of that source a run was requested
for}. Event names sort by receipt time within a source, so a source's pending events are one
listing after its entry. A source whose archive run is queued or running keeps its entry: its
new events wait for the next tick after that run, and then cost one more run (whose probe makes
it one request when the running one already archived everything).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipelines.archive.store import ObjectStore
from pipelines.webhooks.events import UNKNOWN_SOURCE, event_sources, events_after

WEBHOOK_TAG = "rc-archive/webhook-events"


@dataclass
class EventPlan:
    """Sources to run now (with how many events and the last event name each covers), the
    cursor to save, and the sources left waiting."""

    runs: dict[str, tuple[int, str]] = field(default_factory=dict)
    cursor: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    unknown: int = 0

    @property
    def cursor_json(self) -> str:
        return json.dumps(self.cursor, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        parts = [f"{len(self.runs)} source(s) to run"]
        if self.waiting:
            parts.append(f"{len(self.waiting)} waiting for a run in progress")
        if self.unknown:
            parts.append(f"{self.unknown} event(s) without a source id (kept in the log)")
        return ", ".join(parts)


def load_cursor(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def plan_event_runs(store: ObjectStore, cursor: dict[str, str], busy: set[str]) -> EventPlan:
    """One listing per source folder of `_events/` (after the cursor's entry): sources with new
    events and no run in progress get one run; busy ones keep their entry (events wait)."""
    plan = EventPlan(cursor=dict(cursor))
    for source_id in event_sources(store):
        after = cursor.get(source_id)
        keys = events_after(store, source_id, after)
        if not keys:
            continue
        last_name = keys[-1].rsplit("/", 1)[-1]
        if source_id == UNKNOWN_SOURCE:
            # Nothing to run: the content named no valid source. The event stays in the log.
            plan.unknown += len(keys)
            plan.cursor[source_id] = last_name
        elif source_id in busy:
            plan.waiting[source_id] = len(keys)
        else:
            plan.runs[source_id] = (len(keys), last_name)
            plan.cursor[source_id] = last_name
    return plan
