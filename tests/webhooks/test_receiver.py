"""The receiver: handshake, verification token, durable write before 200, restart."""

from __future__ import annotations

import json

import httpx

from pipelines.webhooks.events import EVENT_FILTERS, read_event
from pipelines.webhooks.receiver import ReceiverThread
from pipelines.webhooks.subscription import ensure_subscription
from tests.webhooks.support import TOKEN, client_for, event_keys, wait_for


def _subscribe(sb, store, receiver):
    with client_for(sb) as client:
        return ensure_subscription(
            client, store, address=receiver.url, verification_token=TOKEN
        ).subscription


def test_handshake_echoes_the_validation_token_and_stores_nothing(sandbox_factory, store, receiver):
    answer = httpx.post(receiver.url, headers={"Validation-Token": "abc123"})
    assert answer.status_code == 200 and answer.headers["Validation-Token"] == "abc123"
    assert event_keys(store) == []
    # The sandbox's own handshake (at creation) passes, so the subscription exists.
    sb = sandbox_factory(contents=100)
    sub = _subscribe(sb, store, receiver)
    assert sub["status"] == "Active" and sub["deliveryMode"]["address"] == receiver.url
    assert sorted(sub["eventFilters"]) == sorted(EVENT_FILTERS)
    assert event_keys(store) == []


def test_wrong_or_missing_verification_token_is_403_and_nothing_is_stored(store, receiver, caplog):
    note = {"uuid": "u1", "event": EVENT_FILTERS[0], "body": {"resource": {"id": "1"}}}
    for headers in ({}, {"Verification-Token": "nope"}, {"Verification-Token": TOKEN + "x"}):
        answer = httpx.post(receiver.url, json=note, headers=headers)
        assert answer.status_code == 403
    assert event_keys(store) == []
    assert TOKEN not in caplog.text and "nope" not in caplog.text


def test_sandbox_events_are_stored_before_the_200(sandbox_factory, store, receiver, caplog):
    sb = sandbox_factory(contents=100)
    sub = _subscribe(sb, store, receiver)
    source_id = sb.world.source_ids[0]
    imported = sb.world.add_content(source_id, body="secret body text 123")
    assert sb.webhooks.wait_idle(10)
    hook = sb.webhooks.get(sub["id"])
    assert hook.delivered == 1 and hook.failures == []
    [key] = event_keys(store)
    assert key.startswith(f"_events/{source_id}/")
    event = read_event(store, key)
    assert event["source_id"] == source_id
    resource = dict(event["notification"]["body"]["resource"])
    # The record as the API shows it, plus the webhook-only flag RingCentral's payloads carry.
    assert resource.pop("hasAttachment") is bool(resource.get("attachments"))
    assert resource == sb.world.content_json(imported)
    # The sandbox's delivery thread got its 200 only after the put: the object existed then.
    # Kill-safety, directly: the key a 200 names exists when the answer arrives.
    note = {"uuid": "u2", "event": EVENT_FILTERS[0], "body": {"resource": {"channelId": source_id}}}
    answer = httpx.post(receiver.url, json=note, headers={"Verification-Token": TOKEN})
    assert answer.status_code == 200 and store.exists(answer.json()["stored"])
    # Logs name keys, never the payload or the token.
    assert "secret body text" not in caplog.text and TOKEN not in caplog.text


def test_events_without_a_valid_source_go_to_unknown(store, receiver):
    for resource in ({"channelId": "../../etc"}, {}, {"sourceId": "ABC"}):
        note = {"uuid": "u", "event": EVENT_FILTERS[0], "body": {"resource": resource}}
        answer = httpx.post(receiver.url, json=note, headers={"Verification-Token": TOKEN})
        assert answer.status_code == 200
    assert all(k.startswith("_events/unknown/") for k in event_keys(store))
    assert len(event_keys(store)) == 3
    bad = httpx.post(receiver.url, content=b"{not json", headers={"Verification-Token": TOKEN})
    assert bad.status_code == 400 and len(event_keys(store)) == 3


def test_receiver_restart_loses_nothing(sandbox_factory, store):
    sb = sandbox_factory(contents=100)
    source_id = sb.world.source_ids[1]
    first = ReceiverThread(store, TOKEN).start()
    port = first.port
    try:
        sub = _subscribe(sb, store, first)
        for i in range(5):
            sb.world.add_content(source_id, body=f"before restart {i}")
        assert sb.webhooks.wait_idle(10)
    finally:
        first.stop()
    wait_for(lambda: len(event_keys(store)) == 5)
    # A new process on the same address and archive: the old events are there, new ones join.
    with ReceiverThread(store, TOKEN, port=port) as second:
        assert second.url == first.url
        for i in range(3):
            sb.world.add_content(source_id, body=f"after restart {i}")
        assert sb.webhooks.wait_idle(10)
    keys = event_keys(store)
    assert len(keys) == 8 and sb.webhooks.get(sub["id"]).failures == []
    bodies = [read_event(store, k)["notification"]["body"]["resource"] for k in keys]
    texts = [json.dumps(b) for b in bodies]
    assert all(any(f"before restart {i}" in t for t in texts) for i in range(5))
    assert all(any(f"after restart {i}" in t for t in texts) for i in range(3))
