"""`Context`: what a command reads from its environment, built once per invocation.

Why one object: a handler receives its settings instead of reading the process environment,
so every command sees the same values (those of `--env-file` applied over the environment) and
each is parsed and opened once. Everything is lazy: `keygen` or `sql --list-queries` never
parse a setting they do not use (a malformed ARCHIVE_RETENTION_DAYS is an error only for the
commands that read it), and a command that never touches the archive never opens it.

`settings` is the environment's typed reading (`pipelines.settings.Settings`), what the library
is given. `env` is the environment itself, for what is not a setting: the RingCentral
credentials (`ClientSettings.from_env`), the webhook verification token, and DAGSTER_HOME.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from cli import archive_location
from cli.errors import UsageError
from pipelines.settings import Settings

if TYPE_CHECKING:
    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import ObjectStore
    from pipelines.governance.access_trail import AccessTrail
    from pipelines.integrity.witness import Witness
    from pipelines.ringcentral import ClientSettings


class Context:
    """The settings, the environment snapshot and the archive of one command."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env: dict[str, str] = dict(env)

    @cached_property
    def settings(self) -> Settings:
        """Parsed on first use: a malformed value is one line naming the variable."""
        return Settings.from_env(self.env)

    def client_settings(self) -> ClientSettings:
        """The RingCentral client's settings: its credentials from the environment (they are
        no `Settings`), its timeouts those of every client (`settings.network`)."""
        from pipelines.ringcentral import ClientSettings

        return ClientSettings.from_env(self.env, timeouts=self.settings.network)

    @cached_property
    def store(self) -> ObjectStore:
        """The archive to read (ARCHIVE_URI), checked to be there, opened once."""
        return archive_location.open_store(self.settings)

    @cached_property
    def writable_store(self) -> ObjectStore:
        """The archive to write (a missing directory is created), checked, opened once."""
        return archive_location.open_writable_store(self.settings)

    def check_writable_archive(self) -> None:
        """ARCHIVE_URI checked for writing without opening it (`run`: its steps open it)."""
        archive_location.check_writable(self.settings)

    def writable_ledger(self) -> Ledger:
        """A writer's ledger: every commit point also goes to the witness, when one is set."""
        from pipelines.archive.ledger import Ledger

        store = self.writable_store
        return Ledger(store, witness=self.configured_witness())

    def configured_witness(self) -> Witness | None:
        """The witness of ARCHIVE_WITNESS_URI for a writer (None when unset): every manifest,
        checkpoint and log record the command writes is witnessed (docs/integrity.md)."""
        uri = self.settings.witness_uri or ""
        if not uri:
            return None
        from pipelines.integrity.witness import Witness

        return Witness.open(uri, self.settings)

    def witness_to_compare(self, uri: str) -> Witness | None:
        """The witness a check compares with (None without one). A location that is missing,
        empty or unreadable is an error (WitnessUnavailable, exit 2), never an intact archive."""
        if not uri:
            return None
        from pipelines.integrity.witness import open_witness

        return open_witness(uri, self.settings)

    def require_audit_db(self) -> str:
        """AUDIT_DB, which must have been built (by `rc-archive run` or `catalog`)."""
        path = self.settings.audit_db
        if not os.path.exists(path):
            raise UsageError(
                f"no audit database at {path!r}: run `rc-archive run` (it rebuilds the views) "
                "or set AUDIT_DB"
            )
        return path

    def catalog_trail(self, audit_db: str) -> AccessTrail:
        """The access trail of the archive the catalog's views read (docs/governance.md)."""
        from pipelines.governance.access_trail import AccessTrail
        from pipelines.query.access_logged import catalog_archive

        return AccessTrail(catalog_archive(audit_db, self.settings), self.settings)
