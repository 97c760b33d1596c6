"""Webhook subscriptions for the three social-messaging event filters (API notes §9).

Creation does the Validation-Token handshake synchronously (3 s, 200, header echoed, else
400 SUB-525); notifications are POSTed by one background thread so a slow receiver never
blocks the API.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

EVENT_PREFIX = "/cx/social-messaging/v1/contents/"
EVENTS = ("Imported", "Exported", "DiscussionInitiated")
EVENT_FILTERS = tuple(EVENT_PREFIX + e for e in EVENTS)
MAX_WEBHOOK_EXPIRES_IN = 315_360_000


def _iso_ms(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(ts * 1000) % 1000:03d}Z"
    )


class SubscriptionError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Subscription:
    id: str
    owner_id: str
    event_filters: list[str]
    address: str
    verification_token: str | None
    expires_at: float
    created_at: float
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    # Active | Blacklisted (RingCentral blacklists a subscription whose receiver keeps
    # failing; a blacklisted one delivers nothing and renewing it does not revive it).
    status: str = "Active"

    def info(self, server_url: str) -> dict:
        now = time.time()
        return {
            "uri": f"{server_url}/restapi/v1.0/subscription/{self.id}",
            "id": self.id,
            "creationTime": _iso_ms(self.created_at),
            "status": self.status,
            "eventFilters": list(self.event_filters),
            "disabledFilters": [],
            "expirationTime": _iso_ms(self.expires_at),
            "expiresIn": max(0, int(self.expires_at - now)),
            "deliveryMode": {
                "transportType": "WebHook",
                "address": self.address,
                "encryption": False,
            },
        }


class Webhooks:
    def __init__(self, handshake_timeout: float = 3.0) -> None:
        self.handshake_timeout = handshake_timeout
        self._subs: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=handshake_timeout)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._deliver_forever, name="sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
        self._client.close()

    def create(self, body: object, owner_id: str) -> Subscription:
        if not isinstance(body, dict):
            raise SubscriptionError(400, "CMN-101", "Request body must be a JSON object")
        filters = body.get("eventFilters")
        if (
            not isinstance(filters, list)
            or not filters
            or not all(isinstance(f, str) for f in filters)
        ):
            raise SubscriptionError(400, "CMN-101", "Parameter [eventFilters] value is invalid")
        bad = [f for f in filters if f not in EVENT_FILTERS]
        if bad:
            raise SubscriptionError(400, "SUB-508", f"Invalid event filters: {bad}")
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebHook":
            raise SubscriptionError(
                400, "SUB-501", "Only WebHook transport is supported for these event filters"
            )
        address = mode.get("address")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise SubscriptionError(
                400, "CMN-101", "Parameter [deliveryMode.address] value is invalid"
            )
        expires_in = body.get("expiresIn", 604800)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 1:
            raise SubscriptionError(400, "CMN-101", "Parameter [expiresIn] value is invalid")
        expires_in = min(expires_in, MAX_WEBHOOK_EXPIRES_IN)
        verification = mode.get("verificationToken")
        self._handshake(address)
        now = time.time()
        sub = Subscription(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            event_filters=list(filters),
            address=address,
            verification_token=verification if isinstance(verification, str) else None,
            expires_at=now + expires_in,
            created_at=now,
        )
        with self._lock:
            self._subs[sub.id] = sub
        return sub

    def _handshake(self, address: str) -> None:
        token = uuid.uuid4().hex
        try:
            response = self._client.post(
                address,
                headers={"Validation-Token": token, "Content-Type": "application/json"},
                timeout=self.handshake_timeout,
            )
        except httpx.HTTPError as exc:
            raise SubscriptionError(
                400, "SUB-525", f"WebHook server response is invalid ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200 or response.headers.get("Validation-Token") != token:
            raise SubscriptionError(400, "SUB-525", "WebHook server response is invalid")

    def renew(self, sub_id: str, body: object) -> Subscription | None:
        """PUT: a new expiresIn (and eventFilters when given); the status is unchanged."""
        if not isinstance(body, dict):
            raise SubscriptionError(400, "CMN-101", "Request body must be a JSON object")
        expires_in = body.get("expiresIn", 604800)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 1:
            raise SubscriptionError(400, "CMN-101", "Parameter [expiresIn] value is invalid")
        filters = body.get("eventFilters")
        if filters is not None and (
            not isinstance(filters, list)
            or not filters
            or any(f not in EVENT_FILTERS for f in filters)
        ):
            raise SubscriptionError(400, "SUB-508", f"Invalid event filters: {filters}")
        with self._lock:
            sub = self._subs.get(sub_id)
            if sub is None:
                return None
            sub.expires_at = time.time() + min(expires_in, MAX_WEBHOOK_EXPIRES_IN)
            if filters is not None:
                sub.event_filters = list(filters)
            return sub

    def blacklist(self, sub_id: str) -> None:
        """What RingCentral does to a subscription whose receiver keeps failing (tests)."""
        with self._lock:
            self._subs[sub_id].status = "Blacklisted"

    def expire(self, sub_id: str) -> None:
        """Make a subscription expired now (tests of renewal)."""
        with self._lock:
            self._subs[sub_id].expires_at = time.time() - 1

    def get(self, sub_id: str) -> Subscription | None:
        with self._lock:
            return self._subs.get(sub_id)

    def list(self) -> list[Subscription]:
        with self._lock:
            return list(self._subs.values())

    def delete(self, sub_id: str) -> bool:
        with self._lock:
            return self._subs.pop(sub_id, None) is not None

    def publish(self, event: str, resource: dict) -> None:
        """Queue one notification per active subscription listening to this event."""
        event_filter = EVENT_PREFIX + event
        now = time.time()
        with self._lock:
            targets = [
                s
                for s in self._subs.values()
                if event_filter in s.event_filters and s.expires_at > now and s.status == "Active"
            ]
        for sub in targets:
            payload = {
                "uuid": str(uuid.uuid4()),
                "event": event_filter,
                "timestamp": _iso_ms(now),
                "subscriptionId": sub.id,
                "ownerId": sub.owner_id,
                "body": {"issuedAt": _iso_ms(now), "resource": resource},
            }
            self._queue.put((sub, payload))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _deliver_forever(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                sub, payload = item
                headers = {
                    "Content-Type": "application/json; charset=UTF-8",
                    "User-Agent": "RingCentral-Webhook/8.3",
                    "Accept": "application/json",
                }
                if sub.verification_token:
                    headers["Verification-Token"] = sub.verification_token
                try:
                    data = json.dumps(payload, ensure_ascii=False).encode()
                    response = self._client.post(sub.address, content=data, headers=headers)
                    if response.status_code >= 300:
                        sub.failures.append(f"HTTP {response.status_code}")
                    else:
                        sub.delivered += 1
                except httpx.HTTPError as exc:
                    sub.failures.append(type(exc).__name__)
            finally:
                self._queue.task_done()
