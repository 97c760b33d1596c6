"""The webhook subscription: created, renewed and re-created by plain functions.

`decide` says what to do from the subscription as the API shows it now (or None when there is
none); `ensure_subscription` does it and records every change write-once in the archive:

    _subscriptions/<YYYYMMDDTHHMMSSffffffZ>-<32 hex>.json   {action, id, status, expiresAt, ...}

The newest record names the subscription this archive owns; the API is asked for its current
status (one Light GET) before deciding, so a subscription RingCentral blacklisted or let expire
is re-created. The verification token is sent to RingCentral and never written or logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.archive import keys
from pipelines.archive.store import ObjectStore
from pipelines.archive.versions import parse_api_time
from pipelines.ringcentral import RingCentralClient, errors
from pipelines.webhooks.events import EVENT_FILTERS, event_name

log = logging.getLogger("pipelines.webhooks.subscription")

STATE_PREFIX = f"{keys.SUBSCRIPTIONS_ROOT}/"
STATE_FORMAT = "rc-archive/webhook-subscription/1"
# A week per subscription, renewed when fewer than 2 days are left: a renewal check that
# fails for a day or two still leaves time, and an abandoned receiver stops being called.
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
RENEW_WITHIN = timedelta(days=2)

CREATE, RENEW, RECREATE, NONE = "create", "renew", "recreate", "none"


@dataclass(frozen=True)
class Decision:
    action: str  # create | renew | recreate | none
    reason: str


def decide(
    current: dict[str, Any] | None,
    *,
    now: datetime,
    address: str,
    event_filters: tuple[str, ...] = EVENT_FILTERS,
    renew_within: timedelta = RENEW_WITHIN,
) -> Decision:
    """What to do with the subscription `current` (the API's JSON, None when there is none)."""
    if not current or not current.get("id"):
        return Decision(CREATE, "no subscription")
    status = current.get("status")
    if status != "Active":
        return Decision(RECREATE, f"subscription is {status or 'without status'}")
    expires = parse_api_time(current.get("expirationTime") or current.get("expiresAt"))
    if expires is None or expires <= now:
        return Decision(RECREATE, "subscription expired")
    mode = current.get("deliveryMode") or {}
    if mode.get("address") != address:
        return Decision(RECREATE, "subscription delivers to another address")
    if set(current.get("eventFilters") or []) != set(event_filters):
        return Decision(RECREATE, "subscription has other event filters")
    if expires - now <= renew_within:
        return Decision(RENEW, f"expires at {expires.isoformat()}")
    return Decision(NONE, f"active until {expires.isoformat()}")


def latest_state(store: ObjectStore) -> dict[str, Any] | None:
    """The newest subscription record of this archive, or None."""
    keys = store.list_after(STATE_PREFIX)
    return json.loads(store.get(keys[-1])) if keys else None


def record_state(
    store: ObjectStore, action: str, info: dict[str, Any], now: datetime, reason: str = ""
) -> str:
    """Write one subscription record (never the verification token); returns its key."""
    mode = info.get("deliveryMode") or {}
    record = {
        "format": STATE_FORMAT,
        "action": action,
        "reason": reason,
        "recorded_at": now.astimezone(UTC).isoformat(timespec="milliseconds"),
        "id": info.get("id"),
        "status": info.get("status"),
        "expiresAt": info.get("expirationTime"),
        "eventFilters": info.get("eventFilters"),
        "address": mode.get("address"),
    }
    key = STATE_PREFIX + event_name(now)
    store.put(
        key, json.dumps(record, separators=(",", ":")).encode(), content_type="application/json"
    )
    return key


def current_subscription(
    client: RingCentralClient, store: ObjectStore
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the newest record, the API's view of that subscription or None when it is gone)."""
    state = latest_state(store)
    if not state or not state.get("id"):
        return state, None
    try:
        return state, client.get_subscription(state["id"])
    except errors.NotFound:
        return state, None


@dataclass
class SubscriptionResult:
    action: str
    reason: str
    subscription: dict[str, Any] | None
    state_key: str | None = None


def ensure_subscription(
    client: RingCentralClient,
    store: ObjectStore,
    *,
    address: str,
    verification_token: str,
    now: datetime | None = None,
    expires_in: int = DEFAULT_EXPIRES_IN,
    renew_within: timedelta = RENEW_WITHIN,
    force_renew: bool = False,
) -> SubscriptionResult:
    """Create, renew or re-create the archive's subscription as `decide` says; record it.

    A re-created subscription is created before the old one is deleted, so no notification
    falls in a gap. `force_renew` renews an active subscription whatever its expiry."""
    if not address:
        raise ValueError("RC_WEBHOOK_ADDRESS is not set: the receiver's public https URL")
    if not verification_token:
        raise ValueError("RC_WEBHOOK_VERIFICATION_TOKEN is not set: a secret of your choice")
    now = now or datetime.now(UTC)
    state, current = current_subscription(client, store)
    decision = decide(current, now=now, address=address, renew_within=renew_within)
    if decision.action == NONE and force_renew:
        decision = Decision(RENEW, "renewal asked for")
    if decision.action == NONE:
        return SubscriptionResult(NONE, decision.reason, current)
    if decision.action == RENEW:
        info = client.renew_subscription(
            current["id"], {"eventFilters": list(EVENT_FILTERS), "expiresIn": expires_in}
        )
    else:
        info = client.create_subscription(
            {
                "eventFilters": list(EVENT_FILTERS),
                "deliveryMode": {
                    "transportType": "WebHook",
                    "address": address,
                    "verificationToken": verification_token,
                },
                "expiresIn": expires_in,
            }
        )
        if current and current.get("id") and current["id"] != info.get("id"):
            try:
                client.delete_subscription(current["id"])
            except errors.RingCentralError as exc:  # already gone, or not ours to delete
                log.warning("old subscription %s not deleted: %s", current["id"], exc.message)
    key = record_state(store, decision.action, info, now, decision.reason)
    log.info(
        "webhook subscription %s: %s (%s), expires %s",
        decision.action,
        info.get("id"),
        decision.reason,
        info.get("expirationTime"),
    )
    return SubscriptionResult(decision.action, decision.reason, info, key)
