"""The one partitioning of the pipeline: one dynamic partition per RingCentral source (channel).

Sources are dynamic because the API has no endpoint that lists channels: they come from
RC_SOURCE_IDS and from discovery (sensors.py). Keys are validated before they are added, since a
comma or a pipe in a key breaks UI backfills and a `/` would reach an object key.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from schemas.ids import validate_source_id

sources_partitions = dg.DynamicPartitionsDefinition(name="sources")


def valid_source_keys(candidates: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split candidate ids into (valid lowercase keys, rejected raw values), keeping order."""
    valid: list[str] = []
    rejected: list[str] = []
    for raw in candidates:
        raw = raw.strip()
        if not raw:
            continue
        try:
            key = validate_source_id(raw)
        except ValueError:
            rejected.append(raw)
            continue
        if key not in valid:
            valid.append(key)
    return valid, rejected


def configured_source_ids(value: str | None) -> list[str]:
    """RC_SOURCE_IDS (comma list) as partition keys; an invalid id is an error naming it."""
    valid, rejected = valid_source_keys((value or "").split(","))
    if rejected:
        validate_source_id(rejected[0])  # raises with the message that names the value
    return valid
