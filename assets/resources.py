"""Dagster resources: the RingCentral client, the archive and the audit database.

Each is a ConfigurableResource configured with EnvVar in definitions.py (the one place that
chooses them), so the same code runs against the sandbox, a real account, a local directory
or an S3 bucket. Nothing is built at import time. The library is handed typed settings
(`ArchiveResource.settings`), never an environment to read.
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
from pipelines.settings import (
    NetworkTimeouts,
    S3Access,
    Settings,
    parse_lock_mode,
    parse_retention_days,
    text_setting,
)


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
            },
            # The process's timeouts (RC_ARCHIVE_CONNECT_TIMEOUT, ...), read at run time.
            timeouts=NetworkTimeouts.from_env(os.environ),
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

    def settings(self) -> Settings:
        """The archive's settings for the library. This resource's fields are authoritative:
        one configured without retention or legal hold gets none, whatever the process
        environment says. What is no field is the process's, read at run time: the S3 endpoint
        and credentials, the network timeouts, the user (RC_ARCHIVE_USER) and the Iceberg
        catalog (ARCHIVE_ICEBERG_CATALOG_URI), which may hold a password."""
        env = os.environ
        return Settings(
            archive_uri=self.archive_uri,
            object_lock_mode=parse_lock_mode(self.object_lock_mode),
            retention_days=parse_retention_days(str(self.retention_days)),
            retention_classes_path=self.retention_classes_path.strip() or None,
            legal_hold=self.legal_hold,
            witness_uri=self.witness_uri.strip() or None,
            policies_path=self.policies_path.strip() or None,
            iceberg_catalog_uri=text_setting(env, names.ARCHIVE_ICEBERG_CATALOG_URI),
            network=NetworkTimeouts.from_env(env),
            s3=S3Access.from_env(env),
            user=text_setting(env, names.RC_ARCHIVE_USER),
        )

    def store(self) -> ObjectStore:
        """The store this resource describes (`settings`), opened as writers open it."""
        return open_governed_store(self.archive_uri, self.settings())

    def ledger(self) -> Ledger:
        """The ledger, with the witness of ARCHIVE_WITNESS_URI when set (docs/integrity.md)."""
        settings = self.settings()
        witness = None
        if settings.witness_uri:
            from pipelines.integrity.witness import Witness

            witness = Witness.open(settings.witness_uri, settings)
        return Ledger(open_governed_store(self.archive_uri, settings), witness=witness)

    def policies(self) -> PolicySet | None:
        """The supervision policies, parsed (a mistake fails the step naming file and policy)."""
        if not self.policies_path.strip():
            return None
        return load_policies(self.policies_path.strip())


class AuditResource(dg.ConfigurableResource):
    """The DuckDB file of audit views (rebuilt after each run)."""

    audit_db: str = names.DEFAULT_AUDIT_DB
