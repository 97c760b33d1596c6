"""Server-side sessions, their CSRF tokens, and the login throttle.

Why server-side: the cookie holds only a random token (32 bytes), so signing out, an idle or
absolute expiry, a disabled user or a restart end a session for certain; nothing the browser
keeps can be replayed after that. Each session has its own CSRF token, which every form carries
and every POST must return (compared in constant time).

Logging in is throttled twice: per user name (a password guessed from many addresses) and per
client address (many names tried from one place). Failures within `THROTTLE_WINDOW` seconds
count; past the limit the login is refused, without checking the password, until the oldest
failure leaves the window.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

TOKEN_BYTES = 32
THROTTLE_WINDOW = 15 * 60.0
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_TRACKED = 10_000  # names and addresses with failures kept before the old ones are dropped

Clock = Callable[[], float]


@dataclass
class Session:
    token: str
    user: str
    role: str
    csrf: str
    created: float
    last_seen: float
    via: str = "password"  # or "header": signed in by the trusted proxy's header


def tokens_equal(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class SessionStore:
    """The live sessions of one console process, by token."""

    idle_seconds: float
    max_seconds: float
    clock: Clock = time.time
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: str, role: str, via: str = "password") -> Session:
        now = self.clock()
        session = Session(
            token=secrets.token_urlsafe(TOKEN_BYTES),
            user=user,
            role=role,
            csrf=secrets.token_urlsafe(TOKEN_BYTES),
            created=now,
            last_seen=now,
            via=via,
        )
        with self._lock:
            self._drop_expired(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of `token` (its idle clock restarted), or None when there is none
        or it expired (then it is forgotten)."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def end_user(self, user: str) -> None:
        """Forget every session of `user` (disabled, or no longer in the users file)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.user == user]:
                del self._sessions[token]

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_seconds or now - session.created > self.max_seconds
        )

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]


@dataclass
class LoginThrottle:
    """Failed logins per user name and per client address, within the window."""

    clock: Clock = time.time
    window: float = THROTTLE_WINDOW
    per_user: int = MAX_FAILURES_PER_USER
    per_address: int = MAX_FAILURES_PER_ADDRESS
    _failures: dict[tuple[str, str], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, user: str, address: str) -> bool:
        """Whether a login for `user` from `address` is refused without a check now."""
        now = self.clock()
        with self._lock:
            return (
                len(self._recent(("user", user.lower()), now)) >= self.per_user
                or len(self._recent(("address", address), now)) >= self.per_address
            )

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_TRACKED:
                self._forget_old(now)
            self._recent(("user", user.lower()), now).append(now)
            self._recent(("address", address), now).append(now)

    def _forget_old(self, now: float) -> None:
        """Drop the names and addresses with no failure left in the window (guessed names
        would otherwise grow the table without bound)."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]

    def succeeded(self, user: str) -> None:
        """A correct password clears the name's failures (not the address's)."""
        with self._lock:
            self._failures.pop(("user", user.lower()), None)


class LoginTokens:
    """The CSRF token of the login form, before there is a session: a random value and its
    HMAC under this process's secret, set as a cookie and repeated in the form. A POST /login
    must return both, equal and signed here (a page of another site can neither read the
    cookie nor, the cookie being SameSite=Strict, make the browser send it)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(TOKEN_BYTES)
        return f"{nonce}.{self._sign(nonce)}"

    def valid(self, field_value: str | None, cookie_value: str | None) -> bool:
        if not field_value or not cookie_value or not tokens_equal(field_value, cookie_value):
            return False
        nonce, _, signature = field_value.partition(".")
        return bool(nonce) and tokens_equal(signature, self._sign(nonce))

    def _sign(self, nonce: str) -> str:
        import hashlib

        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()
