"""The archive job: every asset of one source, in dependency order, one run per source."""

from __future__ import annotations

import dagster as dg

from assets.agents import agents
from assets.attachments import attachments
from assets.audit_catalog import audit_catalog
from assets.contents import contents
from assets.identities import identities
from assets.partitions import sources_partitions

# Run tag carrying the source, for finding a source's runs in the UI. The one-run-per-source
# limit of dagster.example.yaml keys on `dagster/partition`, which Dagster sets on every
# partitioned run (schedule, backfill, CLI), so two runs of one source never write at once.
SOURCE_TAG = "rc-archive/source"

ARCHIVE_ASSETS = [contents, identities, agents, attachments, audit_catalog]

archive_job = dg.define_asset_job(
    name="archive_sources",
    selection=dg.AssetSelection.assets(*ARCHIVE_ASSETS),
    partitions_def=sources_partitions,
    description="Archive one source: contents, identities, agents, then rebuild the audit views.",
)
