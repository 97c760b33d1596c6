"""Webhook subscriptions: Validation-Token handshake and notification delivery."""

from __future__ import annotations

import time

import pytest

from tests.sandbox.support import Receiver, api_client

FILTERS = [
    "/cx/social-messaging/v1/contents/Imported",
    "/cx/social-messaging/v1/contents/Exported",
    "/cx/social-messaging/v1/contents/DiscussionInitiated",
]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_handshake_and_delivery(sandbox_factory, receiver):
    sb = sandbox_factory(contents=200)
    with api_client(sb) as api:
        created = api.post("/restapi/v1.0/subscription", json={
            "eventFilters": FILTERS,
            "deliveryMode": {"transportType": "WebHook", "address": receiver.url,
                             "verificationToken": "shh"},
        })  # fmt: skip
        assert created.status_code == 200, created.text
        sub = created.json()
        assert created.headers["X-Rate-Limit-Group"] == "Medium"
        assert sub["status"] == "Active" and sub["eventFilters"] == FILTERS
        listed = api.get("/restapi/v1.0/subscription").json()["records"]
        assert [s["id"] for s in listed] == [sub["id"]]
        source_id = sb.world.source_ids[0]
        imported = sb.world.add_content(source_id, body="new message")
        answer = {"inReplyToContentId": imported, "body": "answer"}
        reply = api.post("/cx/social-messaging/v1/contents", json=answer).json()
        initiated = sb.world.initiate(source_id, body="hello")
        deadline = time.time() + 5
        while len(receiver.notifications) < 3 and time.time() < deadline:
            time.sleep(0.02)
        events = {n["event"]: (h, n) for h, n in receiver.notifications}
        assert set(events) == set(FILTERS)
        headers, note = events[FILTERS[0]]
        assert headers["Verification-Token"] == "shh"
        assert note["subscriptionId"] == sub["id"] and note["ownerId"] == sb.world.owner_ext_id
        assert note["body"]["resource"]["id"] == imported and note["uuid"] and note["timestamp"]
        assert events[FILTERS[1]][1]["body"]["resource"]["id"] == reply["id"]
        assert events[FILTERS[2]][1]["body"]["resource"]["id"] == initiated
        assert api.delete(f"/restapi/v1.0/subscription/{sub['id']}").status_code == 204
        assert api.get(f"/restapi/v1.0/subscription/{sub['id']}").status_code == 404


def test_handshake_failure_is_sub_525(sandbox_factory):
    sb = sandbox_factory(contents=100)
    silent = Receiver(echo=False)
    try:
        with api_client(sb) as api:
            refused = api.post("/restapi/v1.0/subscription", json={
                "eventFilters": FILTERS[:1],
                "deliveryMode": {"transportType": "WebHook", "address": silent.url},
            })  # fmt: skip
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["errorCode"] == "SUB-525"
            unreachable = api.post("/restapi/v1.0/subscription", json={
                "eventFilters": FILTERS[:1],
                "deliveryMode": {"transportType": "WebHook", "address": "http://127.0.0.1:9/x"},
            })  # fmt: skip
            assert unreachable.json()["errors"][0]["errorCode"] == "SUB-525"
            bad_filter = api.post("/restapi/v1.0/subscription", json={
                "eventFilters": ["/restapi/v1.0/account/~/extension"],
                "deliveryMode": {"transportType": "WebHook", "address": silent.url},
            })  # fmt: skip
            assert bad_filter.json()["errors"][0]["errorCode"] == "SUB-508"
    finally:
        silent.close()
