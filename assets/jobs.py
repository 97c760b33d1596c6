"""The archive job (every asset of one source, one run per source) and the audit views' job."""

from __future__ import annotations

import dagster as dg

from assets.audit_catalog import AUDIT_VIEW_ASSETS
from assets.partitions import sources_partitions
from assets.source_assets import SOURCE_ASSETS

# Run tag carrying the source, for finding a source's runs in the UI. The one-run-per-source
# limit of dagster.example.yaml keys on `dagster/partition`, which Dagster sets on every
# partitioned run (schedule, backfill, CLI), so two runs of one source never write at once.
SOURCE_TAG = "rc-archive/source"


# One source's assets (one partition each, assets/source_assets.py); the audit views cover
# every source.
ARCHIVE_ASSETS = [*SOURCE_ASSETS, *AUDIT_VIEW_ASSETS]

archive_job = dg.define_asset_job(
    name="archive_sources",
    selection=dg.AssetSelection.assets(*SOURCE_ASSETS),
    partitions_def=sources_partitions,
    description="Archive one source: contents, identities, agents and attachments.",
)

audit_views_job = dg.define_asset_job(
    name="refresh_audit_views_job",
    selection=dg.AssetSelection.assets(*AUDIT_VIEW_ASSETS),
    description="Rebuild the audit views and refresh the Iceberg tables (whole archive).",
)
