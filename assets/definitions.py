"""The Dagster definitions: assets, checks, jobs, schedules, sensors, resources (loaded by
Dagster through assets/code_location.py, which tunes the process first).

Resources are chosen here and only here, from environment variables (EnvVar), so the same code
runs on the sandbox (`make demo`, `make dev`) and on a real account with an S3 bucket.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.audit_catalog import AUDIT_VIEW_CHECKS, refresh_audit_views
from assets.checks import ARCHIVE_CHECKS
from assets.jobs import ARCHIVE_ASSETS, archive_job, audit_views_job
from assets.maintenance import (
    MAINTENANCE_ASSETS,
    compaction_job,
    compaction_schedule,
    deep_verify_job,
    deep_verify_schedule,
    supervision_report_job,
    supervision_report_schedule,
)
from assets.resources import ArchiveResource, AuditResource, RingCentralResource
from assets.schedules import archive_schedule
from assets.sensors import access_trail_runs, source_discovery, webhook_events
from assets.webhooks import webhook_subscription_job, webhook_subscription_schedule
from pipelines import settings as names
from pipelines.settings import Settings


def build_resources(config: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources, from the one parsed `Settings` (the process environment by default).
    Credentials stay `EnvVar`s: resolved in the run, never shown in the UI or stored."""
    config = config or Settings.from_env(os.environ)
    return {
        "ringcentral": RingCentralResource(
            server_url=config.server_url,
            client_id=dg.EnvVar(names.RC_APP_CLIENT_ID),
            client_secret=dg.EnvVar(names.RC_APP_CLIENT_SECRET),
            user_jwt=dg.EnvVar(names.RC_USER_JWT),
            source_filter_param=config.source_filter_param,
        ),
        "archive": ArchiveResource(
            archive_uri=config.archive_location,
            object_lock_mode=config.object_lock_mode or "",
            retention_days=config.retention_days,
            retention_classes_path=config.retention_classes_path or "",
            legal_hold=config.legal_hold,
            witness_uri=config.witness_uri or "",
            policies_path=config.policies_path or "",
        ),
        "audit": AuditResource(audit_db=config.audit_db),
    }


defs = dg.Definitions(
    assets=[*ARCHIVE_ASSETS, *MAINTENANCE_ASSETS],
    asset_checks=[*ARCHIVE_CHECKS, *AUDIT_VIEW_CHECKS],
    jobs=[
        archive_job,
        audit_views_job,
        compaction_job,
        deep_verify_job,
        supervision_report_job,
        webhook_subscription_job,
    ],
    schedules=[
        archive_schedule,
        compaction_schedule,
        deep_verify_schedule,
        supervision_report_schedule,
        webhook_subscription_schedule,
    ],
    sensors=[source_discovery, webhook_events, access_trail_runs, refresh_audit_views],
    resources=build_resources(),
    # One process per run, steps in order inside it, as `rc-archive run` executes them: a
    # source's steps depend on each other anyway, and a process per step cost ~3 s of imports
    # each (9 steps a run), which made CPU, not the API, the limit of a 20-source backfill.
    executor=dg.in_process_executor,
)
