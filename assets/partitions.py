"""The one partitioning of the pipeline: one dynamic partition per RingCentral source (channel).

Sources are dynamic because the API has no endpoint that lists channels: they come from
RC_SOURCE_IDS and from discovery (sensors.py). Keys are validated before they are added, since a
comma or a pipe in a key breaks UI backfills and a `/` would reach an object key
(schemas.ids.valid_source_keys).
"""

from __future__ import annotations

import dagster as dg

sources_partitions = dg.DynamicPartitionsDefinition(name="sources")
