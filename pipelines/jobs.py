"""The archive job: every asset of one source, in dependency order, one run per source."""

from __future__ import annotations

import dagster as dg

from assets.agents import agents
from assets.audit_catalog import audit_catalog
from assets.contents import contents
from assets.identities import identities
from pipelines.partitions import sources_partitions

# Run tag carrying the source; the production dagster.yaml limits runs to one per value, so two
# runs of one source never write its ledger at once (dagster.example.yaml).
SOURCE_TAG = "rc-archive/source"

ARCHIVE_ASSETS = [contents, identities, agents, audit_catalog]

archive_job = dg.define_asset_job(
    name="archive_sources",
    selection=dg.AssetSelection.assets(*ARCHIVE_ASSETS),
    partitions_def=sources_partitions,
    description="Archive one source: contents, identities, agents, then rebuild the audit views.",
)
