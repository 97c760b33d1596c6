"""Dagster resources: the RingCentral client, the archive and the audit database.

Each is a ConfigurableResource configured with EnvVar in definitions.py (the one place that
chooses them), so the same code runs against the sandbox, a real account, a local directory
or an S3 bucket. Nothing is built at import time.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from pipelines import settings as names
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectStore
from pipelines.governance.policies import PolicySet, load_policies
from pipelines.governance.retention import open_governed_store
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.ringcentral.shared import shared_client


class RingCentralResource(dg.ConfigurableResource):
    """Credentials of a RingCentral app and the archiving agent (JWT bearer grant)."""

    server_url: str = names.DEFAULT_RC_SERVER_URL
    client_id: str
    client_secret: str = Field(json_schema_extra={"dagster__is_secret": True})
    user_jwt: str = Field(json_schema_extra={"dagster__is_secret": True})
    source_filter_param: str = names.DEFAULT_RC_SOURCE_FILTER_PARAM

    def client_settings(self) -> ClientSettings:
        return ClientSettings.from_env(
            {
                names.RC_SERVER_URL: self.server_url,
                names.RC_APP_CLIENT_ID: self.client_id,
                names.RC_APP_CLIENT_SECRET: self.client_secret,
                names.RC_USER_JWT: self.user_jwt,
                names.RC_SOURCE_FILTER_PARAM: self.source_filter_param,
            }
        )

    @contextmanager
    def client(self) -> Iterator[RingCentralClient]:
        """The process's logged-in client for these credentials, shared by every step.

        One login per process instead of one per asset and check: the token endpoint allows
        5 requests a minute (Auth group), so per-step logins would throttle a multi-source run.
        The session is revoked when the process exits.
        """
        yield shared_client(self.client_settings())


class ArchiveResource(dg.ConfigurableResource):
    """Where the archive lives: a local directory or s3://bucket/prefix, and its retention."""

    archive_uri: str = names.DEFAULT_ARCHIVE_URI
    object_lock_mode: str = ""
    retention_days: int = 0
    # retention.yaml: per-object retention by the source's class ("" = retention_days only).
    retention_classes_path: str = ""
    legal_hold: bool = False
    # A second write-once store recording every commit point (docs/integrity.md); "" = none.
    witness_uri: str = ""
    # policies.yaml applied to each new message by the contents asset ("" = none).
    policies_path: str = ""

    def store(self) -> ObjectStore:
        """The store this resource describes. Its fields are authoritative: a resource
        configured without retention or legal hold gets none, whatever the process
        environment says (the environment still supplies the AWS credentials and endpoint)."""
        env = dict(os.environ)
        env[names.ARCHIVE_URI] = self.archive_uri
        env[names.ARCHIVE_OBJECT_LOCK_MODE] = self.object_lock_mode
        env[names.ARCHIVE_RETENTION_DAYS] = str(self.retention_days) if self.retention_days else ""
        env[names.ARCHIVE_RETENTION_CLASSES] = self.retention_classes_path
        env[names.ARCHIVE_LEGAL_HOLD] = "true" if self.legal_hold else "false"
        return open_governed_store(self.archive_uri, env)

    def ledger(self) -> Ledger:
        """The ledger, with the witness of ARCHIVE_WITNESS_URI when set (docs/integrity.md)."""
        witness = None
        if self.witness_uri.strip():
            from pipelines.integrity.witness import Witness

            witness = Witness.open(self.witness_uri.strip(), dict(os.environ))
        return Ledger(self.store(), witness=witness)

    def policies(self) -> PolicySet | None:
        """The supervision policies, parsed (a mistake fails the step naming file and policy)."""
        if not self.policies_path.strip():
            return None
        return load_policies(self.policies_path.strip())


class AuditResource(dg.ConfigurableResource):
    """The DuckDB file of audit views (rebuilt after each run)."""

    audit_db: str = names.DEFAULT_AUDIT_DB
