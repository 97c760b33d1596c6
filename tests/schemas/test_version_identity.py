"""A contents version is its record less what the serving made (schemas.version_identity)."""

from __future__ import annotations

import copy

import pytest

from schemas.common import record_sha256
from schemas.contents import TABLE, version_sha256
from schemas.version_identity import TransportValue, VersionIdentity

RECORD = {
    "id": "65d684cc2796550007054f17",
    "body": "Sending the invoice now.",
    "status": "UserReply",
    "lastModifiedTime": "2024-02-21T23:18:34.000Z",
    "attachments": [
        {
            "id": "65d684cc2796550007054f19",
            "contentType": "application/pdf",
            "filename": "invoice.pdf",
            "size": 326705,
            "uri": "https://files.example/attachments/65d684cc2796550007054f19?exp=1&sig=aa",
        }
    ],
}


def _served_again(record: dict, signature: str) -> dict:
    again = copy.deepcopy(record)
    for attachment in again["attachments"]:
        attachment["uri"] = f"https://cdn2.example/a/{attachment['id']}?exp=9&sig={signature}"
    return again


def test_the_table_declares_its_transport_values():
    assert [t.path for t in TABLE.transport] == ["attachments[].uri", "hasAttachment"]
    assert all(t.why for t in TABLE.transport)
    # Columns read from the API record belong to the identity; resolved names and stamps not.
    assert "body" in TABLE.identity_columns() and "attachments" in TABLE.identity_columns()
    assert "creator_name" not in TABLE.identity_columns()
    assert "archived_at" not in TABLE.identity_columns()


def test_a_re_signed_link_and_a_webhook_only_key_are_the_same_version():
    served = version_sha256(RECORD)
    assert version_sha256(_served_again(RECORD, "bb")) == served
    assert version_sha256({**_served_again(RECORD, "cc"), "hasAttachment": True}) == served
    # ... and the record itself is not changed by hashing it.
    assert RECORD["attachments"][0]["uri"].endswith("sig=aa")


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(body="Sending the WRONG invoice now."),
        lambda r: r.update(status="Replied"),
        lambda r: r.update(lastModifiedTime="2024-02-22T00:00:00.000Z"),
        lambda r: r["attachments"][0].update(size=1),
        lambda r: r["attachments"][0].update(id="65d684cc2796550007054f20"),
        lambda r: r["attachments"].append({"id": "x", "uri": "https://files.example/x"}),
        lambda r: r.update(unknownFieldTheSpecLacks="kept and hashed"),
    ],
)
def test_every_other_change_is_a_new_version(change):
    changed = copy.deepcopy(RECORD)
    change(changed)
    assert version_sha256(changed) != version_sha256(RECORD)


def test_a_record_without_transport_values_hashes_as_before():
    plain = {k: v for k, v in RECORD.items() if k != "attachments"}
    assert version_sha256(plain) == record_sha256(plain)
    assert version_sha256({**plain, "attachments": []}) == record_sha256(
        {**plain, "attachments": []}
    )


def test_malformed_records_still_hash():
    """Total, like record_sha256: quarantine names a record that is not JSON."""
    for odd in ([1, 2], "text", {"attachments": "not a list"}, {"attachments": [1, {"uri": 2}]}):
        assert len(version_sha256(odd)) == 64
    assert version_sha256({"attachments": [1, {"uri": 2}]}) == version_sha256(
        {"attachments": [1, {}]}
    )


def test_a_transport_path_names_one_key():
    with pytest.raises(ValueError, match="one key"):
        TransportValue("a.b.c", "nested objects are not declared this way")
    identity = VersionIdentity((TransportValue("items[].token", "per serving"),))
    assert identity.identity_of({"items": [{"token": 1, "x": 2}]}) == {"items": [{"x": 2}]}
