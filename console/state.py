"""`Console`: what every page of one console process shares, built once at start.

The archive is opened once (the archive the audit catalog reads, as the command line's audit
commands resolve it), the storage credentials stay in this process, and each request acts as
its signed-in user: `settings_for(user)` is the settings with that user as the actor, so the
access events, review decisions and hold records it writes name the person, not the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from console.catalog_access import CatalogAccess
from console.claims import Claims
from console.proxy import ProxyPolicy
from console.sessions import LoginThrottle, LoginTokens, SessionStore
from console.users import UsersFile
from pipelines.archive.store import ObjectStore
from pipelines.governance.access_trail import AccessTrail
from pipelines.settings import Settings


@dataclass
class Console:
    settings: Settings
    users: UsersFile
    store: ObjectStore
    sessions: SessionStore
    throttle: LoginThrottle
    login_tokens: LoginTokens
    proxy: ProxyPolicy
    claims: Claims
    exports_dir: Path
    clock: Callable[[], float] = time.time
    access: CatalogAccess = field(init=False)

    def __post_init__(self) -> None:
        self.access = CatalogAccess(self.settings)

    @property
    def audit_db(self) -> str:
        return self.settings.audit_db

    def settings_for(self, user: str) -> Settings:
        """The settings with `user` as the actor of every record written for the request."""
        return replace(self.settings, user=user)

    def trail_for(self, user: str) -> AccessTrail:
        return AccessTrail(self.store, self.settings_for(user))

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the catalog for a library function that opens it itself (CatalogAccess)."""
        return self.access.exclusive()

    def catalog(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The read-only, locked-down catalog connection, held for this request alone."""
        return self.access.catalog()

    def search_index(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The search index, up to date with the catalog, held for this request alone."""
        return self.access.search_index()
