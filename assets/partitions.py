"""The one partitioning of the pipeline: one dynamic partition per RingCentral source (channel).

Sources are dynamic because the API has no endpoint that lists channels: they come from
RC_SOURCE_IDS and from discovery (sensors.py). Keys are validated before they are added, since a
comma or a pipe in a key breaks UI backfills and a `/` would reach an object key
(schemas.ids.valid_source_keys).
"""

from __future__ import annotations

import warnings

import dagster as dg

sources_partitions = dg.DynamicPartitionsDefinition(name="sources")

# Checks are partitioned like their asset so each source's run checks that source; Dagster
# marks partitioned checks as preview (1.13). Chosen knowingly: the notice is silenced here,
# before any module defines such a check (every one imports this partitioning).
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
