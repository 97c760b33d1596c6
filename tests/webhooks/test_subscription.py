"""Subscription upkeep: the decision as a plain function, then create/renew/re-create for real."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.resources import ArchiveResource, RingCentralResource
from assets.webhooks import webhook_subscription_schedule
from pipelines.webhooks.events import EVENT_FILTERS
from pipelines.webhooks.subscription import (
    CREATE,
    NONE,
    RECREATE,
    RENEW,
    decide,
    ensure_subscription,
    latest_state,
)
from tests.webhooks.support import TOKEN, client_for

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ADDRESS = "https://archive.example.com/hook"


def _sub(status="Active", expires_in=timedelta(days=5), address=ADDRESS, filters=EVENT_FILTERS):
    return {
        "id": "s1",
        "status": status,
        "expirationTime": (NOW + expires_in).isoformat().replace("+00:00", "Z"),
        "eventFilters": list(filters),
        "deliveryMode": {"transportType": "WebHook", "address": address},
    }


def test_decide():
    assert decide(None, now=NOW, address=ADDRESS).action == CREATE
    assert decide(_sub(), now=NOW, address=ADDRESS).action == NONE
    assert decide(_sub(expires_in=timedelta(hours=30)), now=NOW, address=ADDRESS).action == RENEW
    assert decide(_sub(status="Blacklisted"), now=NOW, address=ADDRESS).action == RECREATE
    assert decide(_sub(status="Suspended"), now=NOW, address=ADDRESS).action == RECREATE
    expired = _sub(expires_in=timedelta(seconds=-1))
    assert decide(expired, now=NOW, address=ADDRESS).action == RECREATE
    moved = _sub(address="https://old.example.com/hook")
    assert decide(moved, now=NOW, address=ADDRESS).action == RECREATE
    fewer = _sub(filters=EVENT_FILTERS[:1])
    assert decide(fewer, now=NOW, address=ADDRESS).action == RECREATE


def test_create_renew_and_recreate_after_blacklist_and_expiry(sandbox_factory, store, receiver):
    sb = sandbox_factory(contents=100)
    with client_for(sb) as client:

        def ensure(**kwargs):
            return ensure_subscription(
                client, store, address=receiver.url, verification_token=TOKEN, **kwargs
            )

        created = ensure()
        assert created.action == CREATE
        first_id = created.subscription["id"]
        assert ensure().action == NONE  # a week left: nothing to do
        # Inside the renewal window: renewed in place (same id, later expiry).
        before = sb.webhooks.get(first_id).expires_at
        renewed = ensure(renew_within=timedelta(days=8))
        assert renewed.action == RENEW and renewed.subscription["id"] == first_id
        assert sb.webhooks.get(first_id).expires_at >= before
        # RingCentral blacklisted it: a new one replaces it, the old one is deleted.
        sb.webhooks.blacklist(first_id)
        recreated = ensure()
        assert recreated.action == RECREATE and "Blacklisted" in recreated.reason
        second_id = recreated.subscription["id"]
        assert second_id != first_id and sb.webhooks.get(first_id) is None
        # Expired: re-created too.
        sb.webhooks.expire(second_id)
        assert ensure().action == RECREATE
        # Deleted behind our back (SUB-507): created again.
        sb.webhooks.delete(latest_state(store)["id"])
        assert ensure().action == CREATE
        assert [s.status for s in sb.webhooks.list()] == ["Active"]
    # Every change is a write-once record, and none holds the token.
    keys = list(store.list("_subscriptions/"))
    assert len(keys) == 5
    records = [json.loads(store.get(k)) for k in keys]
    assert [r["action"] for r in records] == [CREATE, RENEW, RECREATE, RECREATE, CREATE]
    assert all(TOKEN not in json.dumps(r) for r in records)
    # The new subscription delivers to the receiver.
    sb.world.add_content(sb.world.source_ids[0])
    assert sb.webhooks.wait_idle(10)
    assert len(list(store.list("_events/"))) == 1


def test_schedule_launches_only_when_something_is_due(
    sandbox_factory, store, receiver, archive_uri, monkeypatch
):
    sb = sandbox_factory(contents=100)
    env = sb.env
    resources = {
        "ringcentral": RingCentralResource(
            server_url=env["RC_SERVER_URL"],
            client_id=env["RC_APP_CLIENT_ID"],
            client_secret=env["RC_APP_CLIENT_SECRET"],
            user_jwt=env["RC_USER_JWT"],
        ),
        "archive": ArchiveResource(archive_uri=archive_uri),
    }

    def tick():
        with dg.instance_for_test() as instance:
            return webhook_subscription_schedule(
                dg.build_schedule_context(
                    instance=instance,
                    resources=resources,
                    scheduled_execution_time=datetime.now(UTC),
                )
            )

    monkeypatch.delenv("RC_WEBHOOK_ADDRESS", raising=False)
    assert "not set" in tick().skip_message
    monkeypatch.setenv("RC_WEBHOOK_ADDRESS", receiver.url)
    monkeypatch.setenv("RC_WEBHOOK_VERIFICATION_TOKEN", TOKEN)
    request = tick()
    assert request.tags["rc-archive/subscription"] == CREATE
    with client_for(sb) as client:
        ensure_subscription(client, store, address=receiver.url, verification_token=TOKEN)
    assert "active until" in tick().skip_message
    sb.webhooks.blacklist(latest_state(store)["id"])
    request = tick()
    assert request.tags["rc-archive/subscription"] == RECREATE
