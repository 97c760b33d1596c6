"""The Dagster definitions: assets, checks, jobs, schedules, sensors, resources (loaded by
Dagster through assets/code_location.py, which tunes the process first).

Resources are chosen here and only here, from environment variables (EnvVar), so the same code
runs on the sandbox (`make demo`, `make dev`) and on a real account with an S3 bucket.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.checks import ARCHIVE_CHECKS
from assets.jobs import ARCHIVE_ASSETS, archive_job
from assets.maintenance import (
    MAINTENANCE_ASSETS,
    compaction_job,
    compaction_schedule,
    deep_verify_job,
    deep_verify_schedule,
)
from assets.resources import ArchiveResource, AuditResource, RingCentralResource
from assets.schedules import archive_schedule
from assets.sensors import source_discovery, webhook_events
from assets.webhooks import webhook_subscription_job, webhook_subscription_schedule
from pipelines import settings as names
from pipelines.archive.store import parse_flag, parse_retention_days


def _env_or_default(name: str, default: str) -> str | dg.EnvVar:
    """EnvVar when the variable is set (resolved at run time, never logged), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "ringcentral": RingCentralResource(
            server_url=_env_or_default(names.RC_SERVER_URL, names.DEFAULT_RC_SERVER_URL),
            client_id=dg.EnvVar(names.RC_APP_CLIENT_ID),
            client_secret=dg.EnvVar(names.RC_APP_CLIENT_SECRET),
            user_jwt=dg.EnvVar(names.RC_USER_JWT),
            source_filter_param=_env_or_default(
                names.RC_SOURCE_FILTER_PARAM, names.DEFAULT_RC_SOURCE_FILTER_PARAM
            ),
        ),
        "archive": ArchiveResource(
            archive_uri=_env_or_default(names.ARCHIVE_URI, names.DEFAULT_ARCHIVE_URI),
            object_lock_mode=_env_or_default(names.ARCHIVE_OBJECT_LOCK_MODE, ""),
            retention_days=parse_retention_days(os.environ.get(names.ARCHIVE_RETENTION_DAYS)),
            legal_hold=parse_flag(
                names.ARCHIVE_LEGAL_HOLD, os.environ.get(names.ARCHIVE_LEGAL_HOLD)
            ),
        ),
        "audit": AuditResource(audit_db=_env_or_default(names.AUDIT_DB, names.DEFAULT_AUDIT_DB)),
    }


defs = dg.Definitions(
    assets=[*ARCHIVE_ASSETS, *MAINTENANCE_ASSETS],
    asset_checks=ARCHIVE_CHECKS,
    jobs=[archive_job, compaction_job, deep_verify_job, webhook_subscription_job],
    schedules=[
        archive_schedule,
        compaction_schedule,
        deep_verify_schedule,
        webhook_subscription_schedule,
    ],
    sensors=[source_discovery, webhook_events],
    resources=build_resources(),
)
