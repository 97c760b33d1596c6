"""OAuth 2.0 as RingCentral does it: JWT bearer grant, refresh, revoke, bearer checks.

Credentials are derived from the seed so `python -m sandbox serve --seed 7` and the pytest
fixture hand out the same ones; the user JWT is a real HS256 JWT signed with a seed key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass

ACCESS_PREFIX = "U0JYMDFBQ0N8"  # all sandbox access tokens start so (parsable check: OAU-149)
REFRESH_PREFIX = "U0JYMDFSRUZ8"
TOKEN_BODY_LENGTH = 43
SCOPE = "ReadAccounts SocialMessaging SubscriptionWebhook"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    user_jwt: str
    signing_key: bytes

    def __repr__(self) -> str:  # secrets never in reprs
        return f"Credentials(client_id={self.client_id!r}, client_secret=***, user_jwt=***)"


def derive_credentials(seed: int, owner_ext_id: str, server_url: str) -> Credentials:
    digest = hashlib.sha256(f"rc-sandbox:{seed}".encode()).digest()
    client_id = _b64url(digest[:16])[:22]
    client_secret = _b64url(hashlib.sha256(digest + b"secret").digest())[:43]
    key = hashlib.sha256(digest + b"jwt-signing").digest()
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "aud": "https://platform.ringcentral.com/restapi/oauth/token",
        "sub": owner_ext_id,
        "iss": "https://platform.ringcentral.com",
        "exp": 3_900_000_000,
        "iat": 1_700_000_000,
        "jti": _b64url(hashlib.sha256(digest + b"jti").digest()[:18]),
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = _b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
    return Credentials(client_id, client_secret, f"{signing_input}.{signature}", key)


def verify_jwt(assertion: str, key: bytes) -> dict | None:
    """Claims of a valid, unexpired HS256 JWT signed with key; None otherwise."""
    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        expected = hmac.new(key, f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(signature_b64)):
            return None
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(claims_b64))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    if (
        not isinstance(exp, int | float)
        or exp < time.time()
        or not isinstance(claims.get("sub"), str)
    ):
        return None
    return claims


@dataclass
class Session:
    session_id: str
    client_id: str
    owner_id: str
    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float
    revoked: bool = False


class TokenError(Exception):
    """Why a bearer token is refused: (http status, errorCode, message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthService:
    def __init__(self, credentials: Credentials, access_ttl: float, refresh_ttl: float) -> None:
        self.credentials = credentials
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._lock = threading.Lock()
        self._by_access: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}

    def check_client(self, client_id: str, client_secret: str) -> bool:
        return hmac.compare_digest(client_id, self.credentials.client_id) and hmac.compare_digest(
            client_secret, self.credentials.client_secret
        )

    def _new_tokens(self, session: Session) -> None:
        now = time.time()
        session.access_token = ACCESS_PREFIX + secrets.token_urlsafe(32)[:TOKEN_BODY_LENGTH]
        session.refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)[:TOKEN_BODY_LENGTH]
        session.access_expires_at = now + self.access_ttl
        session.refresh_expires_at = now + self.refresh_ttl
        self._by_access[session.access_token] = session
        self._by_refresh[session.refresh_token] = session

    def login(self, owner_id: str) -> Session:
        with self._lock:
            session = Session(
                session_id=str(secrets.randbelow(10**18)),
                client_id=self.credentials.client_id,
                owner_id=owner_id,
                access_token="",
                access_expires_at=0,
                refresh_token="",
                refresh_expires_at=0,
            )
            self._new_tokens(session)
            return session

    def refresh(self, refresh_token: str) -> Session | None:
        with self._lock:
            session = self._by_refresh.pop(refresh_token, None)
            if session is None or session.revoked or session.refresh_expires_at < time.time():
                return None
            self._by_access.pop(session.access_token, None)
            self._new_tokens(session)
            return session

    def revoke(self, token: str) -> None:
        """Revoking either token ends the whole session (API notes §7.2)."""
        with self._lock:
            session = self._by_access.get(token) or self._by_refresh.get(token)
            if session is not None:
                session.revoked = True

    def expire_all_now(self) -> None:
        with self._lock:
            for session in self._by_access.values():
                session.access_expires_at = 0

    def authenticate(self, authorization: str | None) -> Session:
        """The session of a bearer header, or TokenError with the RingCentral code."""
        if not authorization:
            raise TokenError("OAU-123", "Authorization header is not specified")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TokenError("OAU-134", "Invalid Authorization header")
        token = token.strip()
        if (
            not token.startswith(ACCESS_PREFIX)
            or len(token) != len(ACCESS_PREFIX) + TOKEN_BODY_LENGTH
        ):
            raise TokenError("OAU-149", "Unparseable access token")
        session = self._by_access.get(token)
        if session is None or session.revoked:
            raise TokenError("OAU-213", "Token not found")
        if session.access_expires_at <= time.time():
            raise TokenError("OAU-128", "Access token expired")
        return session
