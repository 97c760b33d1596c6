"""The console's users file: who may sign in, with which role, and a scrypt hash of each
password (never the password).

Why a file of its own and not the archive: accounts change (a password reset, a person who
leaves) and the archive is write-once. The file is JSON, mode 0600, replaced atomically (a new
file renamed over the old one), so a crash never leaves half a file and a reader never sees
one. The running console re-reads it when it changes, so `rc-archive users disable NAME` ends
that person's sessions at their next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

USERS_FORMAT = "rc-archive/console-users/1"
ROLES = ("reviewer", "auditor", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
# scrypt's cost: n=2**14, r=8, p=1 (16 MiB and about 50 ms a check), a 16-byte salt.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_SALT = bytes(SALT_BYTES)


class UserError(ValueError):
    """A users-file request that cannot be done (bad name, role, password; unknown user)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    enabled: bool
    created_at: str
    disabled_at: str | None = None


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise UserError(
            f"user name {name!r}: use 1-100 letters, digits, '.', '_', '@', '+' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"the password must be at most {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    """The stored form of `password`: scrypt parameters, salt and hash (hex)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return {
        "algorithm": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "hash": digest.hex(),
    }


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * 1024 * 1024,
        dklen=HASH_BYTES,
    )


def password_matches(stored: dict[str, Any] | None, password: str) -> bool:
    """Whether `password` hashes to `stored` (compared in constant time). With no stored hash
    a hash is still computed, so the answer takes as long either way."""
    if not stored or stored.get("algorithm") != "scrypt":
        _scrypt(password, _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    try:
        salt = bytes.fromhex(stored["salt"])
        expected = bytes.fromhex(stored["hash"])
        n, r, p = int(stored["n"]), int(stored["r"]), int(stored["p"])
    except (KeyError, ValueError, TypeError):
        return False
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class UsersFile:
    """The users file at `path`. Each call reads the file as it is now (the CLI writes it
    while a console runs); `load` re-reads only when its modification time or size changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._users: dict[str, dict[str, Any]] = {}

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise UserError(
                f"the users file {self.path} cannot be read: {error.strerror}"
            ) from None
        try:
            document = json.loads(text)
        except ValueError:
            raise UserError(f"the users file {self.path} is not JSON; restore it") from None
        if not isinstance(document, dict) or document.get("format") != USERS_FORMAT:
            raise UserError(f"the users file {self.path} is not an rc-archive console users file")
        users = document.get("users")
        if not isinstance(users, dict):
            raise UserError(f"the users file {self.path} has no `users` mapping")
        return users

    def load(self) -> dict[str, dict[str, Any]]:
        """Every user's entry (name -> entry), re-read when the file changed."""
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = None
        if seen != self._seen or seen is None:
            self._users = self._read()
            self._seen = seen
        return self._users

    def get(self, name: str) -> User | None:
        entry = self.load().get(name)
        return _user(name, entry) if isinstance(entry, dict) else None

    def users(self) -> list[User]:
        return [_user(name, entry) for name, entry in sorted(self.load().items())]

    def authenticate(self, name: str, password: str) -> User | None:
        """The enabled user `name` when `password` is theirs, else None (as slow either way)."""
        entry = self.load().get(name) if NAME_PATTERN.match(name or "") else None
        stored = entry.get("password") if isinstance(entry, dict) else None
        ok = password_matches(stored, password)
        if not ok or not isinstance(entry, dict) or not entry.get("enabled", False):
            return None
        return _user(name, entry)

    # -- writing (the CLI) -----------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        check_name(name)
        check_role(role)
        check_password(password)
        users = dict(self._read())
        if name in users:
            raise UserError(f"user {name!r} already exists (`rc-archive users list`)")
        users[name] = {
            "role": role,
            "enabled": True,
            "created_at": _now(),
            "disabled_at": None,
            "password": hash_password(password),
        }
        self._write(users)
        return _user(name, users[name])

    def disable(self, name: str) -> User:
        users = dict(self._read())
        entry = users.get(name)
        if not isinstance(entry, dict):
            raise UserError(f"no user {name!r} (`rc-archive users list`)")
        if entry.get("enabled", False):
            users[name] = {**entry, "enabled": False, "disabled_at": _now()}
            self._write(users)
        return _user(name, users[name])

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        """Write the whole file anew, mode 0600, and rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"format": USERS_FORMAT, "users": users}
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._seen = None


def _user(name: str, entry: dict[str, Any]) -> User:
    return User(
        name=name,
        role=str(entry.get("role")),
        enabled=bool(entry.get("enabled", False)),
        created_at=str(entry.get("created_at") or ""),
        disabled_at=entry.get("disabled_at"),
    )
