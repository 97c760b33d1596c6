"""One access token per app + user + server, shared by every process of one machine.

Why: RingCentral's token endpoint allows 5 requests a minute per app and user (Auth group), and
Dagster starts a process per run. With a login (and a revoke) per process, ten webhook-triggered
runs in a minute spent 20 Auth requests and drew 429s whose penalty every retry renewed, until
runs failed. Sharing the token the way CLIs share theirs (a file readable by its owner only)
makes it one login an hour however many runs start. A lock file serialises renewals, so
processes that start together wait for one login instead of making one each.

The file holds the access and refresh tokens and their expiry (wall clock); its name is a hash
of the server, the app and the credentials, never a secret. `RC_TOKEN_CACHE=off` turns sharing
off (each process logs in and revokes its session at exit, as before).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("pipelines.ringcentral")

OFF = "off"


def default_directory(xdg_cache_home: str | None) -> Path:
    """`$XDG_CACHE_HOME/rc-archive`, else `~/.cache/rc-archive` (per operating-system user)."""
    return Path(xdg_cache_home or Path.home() / ".cache") / "rc-archive"


@dataclass(frozen=True)
class CachedToken:
    """What the file holds: the tokens and when they expire, in seconds since the epoch."""

    access_token: str
    refresh_token: str | None
    lifetime: float
    expires_at: float
    refresh_expires_at: float


class TokenFile:
    """The shared token of one app + user + server: read, written whole, renewed under a lock."""

    def __init__(self, directory: str | Path, *, server: str, client_id: str, secret: str) -> None:
        key = hashlib.sha256(f"{server}\0{client_id}\0{secret}".encode()).hexdigest()[:32]
        self.directory = Path(directory)
        self.path = self.directory / f"token-{key}.json"
        self._lock_path = self.directory / f"token-{key}.lock"

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes (flock): one process renews, the others then read."""
        self._ensure_directory()
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> CachedToken | None:
        """The shared token, or None when there is none or the file cannot be used (then a
        login replaces it: a damaged cache costs one login, never a failed run)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("rc.auth token cache %s unreadable (%s); logging in", self.path, exc)
            return None
        try:
            data = json.loads(raw)
            return CachedToken(
                access_token=str(data["access_token"]),
                refresh_token=data.get("refresh_token") or None,
                lifetime=float(data["lifetime"]),
                expires_at=float(data["expires_at"]),
                refresh_expires_at=float(data.get("refresh_expires_at") or 0.0),
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("rc.auth token cache %s is not a token file; logging in", self.path)
            return None

    def write(self, token: CachedToken) -> None:
        """Replace the file whole (a reader never sees half a token), owner-only from birth."""
        self._ensure_directory()
        body = json.dumps(token.__dict__).encode()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".token-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, self.path)
        except OSError:
            os.unlink(tmp)
            raise

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
