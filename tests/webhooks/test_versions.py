"""Every version a webhook carried is in the archive, even when edits overtake the next poll."""

from __future__ import annotations

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import ArchivedVersions
from pipelines.sync.contents import sync_contents
from pipelines.webhooks.events import (
    event_versions_since,
    events_after,
    log_event,
    pending_event_versions,
)
from pipelines.webhooks.subscription import ensure_subscription
from schemas.contents import version_sha256
from schemas.ids import source_stream
from tests.webhooks.support import TOKEN, client_for


def test_the_event_log_keeps_the_version_a_later_poll_cannot_see(sandbox_factory, store, receiver):
    sb = sandbox_factory(contents=200, sources=2)
    source_id = sb.world.source_ids[0]
    ledger = Ledger(store)
    with client_for(sb) as client:
        ensure_subscription(client, store, address=receiver.url, verification_token=TOKEN)
        sync_contents(client, ledger, source_id, run_id="before")
        content_id = sb.world.add_content(source_id, body="version 1")
        assert sb.webhooks.wait_idle(10)
        first = sb.world.content_json(content_id)
        sb.world.edit_content(content_id, body="version 2")
        sb.world.edit_content(content_id, body="version 3")  # no webhook for edits
        sync_contents(client, ledger, source_id, run_id="poll")
    archived = ArchivedVersions.load(ledger, "contents", source_stream(source_id))
    # The poll archived the newest state, and the version the Imported event carried (version
    # 1, exactly as the API showed it) through the same version check; version 2 existed only
    # between two polls and no webhook carried it: it is in neither place (nothing invented).
    assert archived.has_versions([version_sha256(sb.world.content_json(content_id))]) == [True]
    assert archived.has_versions([version_sha256(first)]) == [True]
    [version] = list(pending_event_versions(store, source_id))
    # As delivered, with the webhook-only flag: the same version as the record listed.
    assert "hasAttachment" in version and version_sha256(version) == version_sha256(first)
    assert {k: v for k, v in version.items() if k != "hasAttachment"} == first
    assert version["body"] == "version 1"
    [key] = events_after(store, source_id)
    assert (
        ledger.head("contents", source_stream(source_id)).cursor["event_key"]
        == key.rsplit("/", 1)[-1]
    )
    # After the last key processed there is nothing pending, and a next run offers nothing.
    assert list(pending_event_versions(store, source_id, key)) == []
    assert event_versions_since(store, source_id) == ([version], key.rsplit("/", 1)[-1])
    assert event_versions_since(store, source_id, key.rsplit("/", 1)[-1]) == (
        [],
        key.rsplit("/", 1)[-1],
    )


def test_a_redelivered_notification_is_one_version(store):
    source_id = "65c3fdd9527bf900079cefcb"
    note = {"uuid": "same", "event": "e", "body": {"resource": {"id": "1", "channelId": source_id}}}
    log_event(store, note)
    log_event(store, note)
    assert len(events_after(store, source_id)) == 2  # both deliveries are kept as received
    assert len(list(pending_event_versions(store, source_id))) == 1
