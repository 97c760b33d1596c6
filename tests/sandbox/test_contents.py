"""GET/POST /contents: filters in every spelling, ordering, paging envelope, errors."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import httpx
import pytest

from tests.sandbox.support import CONTENTS, api_client, crawl, unsigned


def _key(record: dict) -> tuple[datetime, str]:
    return datetime.fromisoformat(record["creationTime"].replace("Z", "+00:00")), record["id"]


def test_every_spelling_of_the_source_filter_selects_the_same_contents(sandbox, api):
    source_id = sandbox.world.source_ids[1]
    expected = sandbox.world.content_ids(source_id)
    for name in ("sourceIds", "source", "channelIds"):
        ids = {r["id"] for r in crawl(api, {name: source_id}, per_page=1000)}
        assert ids == expected, name


def test_repeated_keys_and_comma_lists_are_unions(sandbox, api):
    a, b, _ = sandbox.world.source_ids
    both = sandbox.world.content_ids(a) | sandbox.world.content_ids(b)
    repeated = crawl(api, {"sourceIds": [a, b]}, per_page=1000)
    comma = crawl(api, {"channelIds": f"{a},{b}"}, per_page=1000)
    assert {r["id"] for r in repeated} == {r["id"] for r in comma} == both


def test_filters_are_anded(sandbox, api):
    source_id = sandbox.world.source_ids[0]
    replied = crawl(api, {"sourceIds": source_id, "status": "Replied"}, per_page=1000)
    assert replied and all(
        r["status"] == "Replied" and r["channelId"] == source_id for r in replied
    )
    outgoing = crawl(api, {"sourceIds": source_id, "contentDirection": "Outgoing"}, per_page=1000)
    assert outgoing and all(r["contentDirection"] == "Outgoing" for r in outgoing)
    assert {r["status"] for r in outgoing} <= {"UserReply", "UserInitiated"}
    sample = replied[0]
    for names, value in [
        (("threadIds", "thread"), sample["threadId"]),
        (("authorIdentityIds", "identity"), sample["authorIdentityId"]),
        (("authorIdentityGroupIds", "identityGroup"), sample["identityGroupId"]),
        (("interventionIds", "intervention"), sample["interventionId"]),
    ]:
        for name in names:
            found = crawl(api, {"sourceIds": source_id, "status": "Replied", name: value})
            assert sample["id"] in {r["id"] for r in found}, name
            field = {
                "thread": "threadId",
                "identity": "authorIdentityId",
                "identityGroup": "identityGroupId",
                "intervention": "interventionId",
            }
            key = field[names[1]]
            assert all(r[key] == value for r in found), name
    two = crawl(api, {"status": ["New", "Ignored"], "sourceIds": source_id}, per_page=1000)
    assert {r["status"] for r in two} == {"New", "Ignored"}


def test_text_filter_matches_substrings_case_insensitively_and_ands(api):
    found = crawl(api, {"texts": "ORDER"}, per_page=1000)
    assert found and all("order" in r["body"].lower() for r in found)
    both = crawl(api, {"text": ["order", "arrived"]}, per_page=1000)
    assert both and all("order" in r["body"].lower() and "arrived" in r["body"] for r in both)
    rtl = crawl(api, {"texts": "שלום"}, per_page=1000)
    assert rtl


def test_orderings_and_tie_break_by_id(sandbox, api):
    source_id = sandbox.world.source_ids[0]
    ascending = crawl(api, {"sourceIds": source_id, "orderBy": "+creationTime"}, per_page=137)
    assert [r["id"] for r in ascending] == sorted(r["id"] for r in ascending)  # ids follow time
    assert [_key(r) for r in ascending] == sorted(_key(r) for r in ascending)
    same_second = len(ascending) - len({r["creationTime"] for r in ascending})
    assert same_second > 0, "quirk: several contents share a whole-second timestamp"
    for order_by in ("-creationTime", "creationTime", None):
        params = {"sourceIds": source_id} | ({"orderBy": order_by} if order_by else {})
        descending = crawl(api, params, per_page=137)
        assert [r["id"] for r in descending] == [r["id"] for r in reversed(ascending)]
    by_modified = crawl(api, {"sourceIds": source_id, "orderBy": "+lastModifiedTime"}, per_page=300)
    times = [r["lastModifiedTime"] for r in by_modified]
    assert times == sorted(times) and len(by_modified) == len(ascending)
    newest_first = crawl(api, {"sourceIds": source_id, "orderBy": "lastModifiedTime"}, per_page=300)
    assert [r["id"] for r in newest_first] == [r["id"] for r in reversed(by_modified)]


def test_paging_envelope_keys(sandbox, api):
    source_id = sandbox.world.source_ids[2]
    first = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 5}).json()
    paging = first["paging"]
    assert paging["perPage"] == 5 and len(first["records"]) == 5
    assert {"pageToken", "nextPageToken", "firstPageToken"} <= set(paging)
    assert "previousPageToken" not in paging
    decoded = json.loads(base64.b64decode(paging["pageToken"]))
    assert decoded["id"] == first["records"][0]["id"] and decoded["field"] == "creationTime"
    assert isinstance(decoded["value"], float)
    second = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 5,
                                       "pageToken": paging["nextPageToken"]}).json()  # fmt: skip
    assert "previousPageToken" in second["paging"]
    previous = second["paging"]["previousPageToken"]
    back = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 5, "pageToken": previous})
    back = back.json()
    assert [r["id"] for r in back["records"]] == [r["id"] for r in first["records"]]
    default = api.get(CONTENTS).json()
    assert default["paging"]["perPage"] == 100 and len(default["records"]) == 100
    capped = api.get(CONTENTS, params={"perPage": 5000}).json()
    assert capped["paging"]["perPage"] == 1000 and len(capped["records"]) == 1000
    empty = api.get(CONTENTS, params={"threadIds": "65c40111aa12f444ffffffff"}).json()
    assert empty == {"records": [], "paging": {"perPage": 100}}
    last = crawl(api, {"sourceIds": source_id}, per_page=1000)
    assert last  # crawl stops only when nextPageToken is absent


@pytest.mark.parametrize(
    "params",
    [
        {"perPage": 0},
        {"perPage": -3},
        {"perPage": "ten"},
        {"orderBy": "+id"},
        {"pageToken": "garbage!!"},
        {"pageToken": base64.b64encode(b'{"value": "x"}').decode()},
        {"pageToken": base64.b64encode(b"[1,2]").decode()},
        {"status": "Lost"},
        {"contentDirection": "Sideways"},
    ],
)
def test_bad_list_requests_are_400_with_ringcentral_errors(api, params):
    response = api.get(CONTENTS, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["errorCode"].startswith("EDI-") and error["message"]
    assert error["parameterName"] == next(iter(params))


def test_content_by_id_and_its_errors(sandbox, api):
    source_id = sandbox.world.source_ids[0]
    some_id = sorted(sandbox.world.content_ids(source_id))[3]
    got = api.get(f"{CONTENTS}/{some_id}")
    assert got.status_code == 200
    assert unsigned(got.json()) == unsigned(sandbox.world.content_json(some_id))
    unknown = api.get(f"{CONTENTS}/65c40111aa12f444ffffffff")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["errorCode"] == "EDI-029"
    malformed = api.get(f"{CONTENTS}/not-an-id")
    assert malformed.status_code == 404 and malformed.json()["errors"][0]["errorCode"] == "EDI-032"


def test_hidden_source_is_invisible_everywhere(sandbox, api):
    hidden = sandbox.world.hidden_source_ids[0]
    hidden_ids = sandbox.world.content_ids(hidden)
    assert hidden_ids
    listed = {r["id"] for r in crawl(api, {}, per_page=1000)}
    assert listed and listed.isdisjoint(hidden_ids)
    assert crawl(api, {"sourceIds": hidden}) == []
    one = next(iter(hidden_ids))
    assert api.get(f"{CONTENTS}/{one}").status_code == 404
    reply = api.post(CONTENTS, json={"inReplyToContentId": one, "body": "hi"})
    assert reply.status_code == 404


def test_reply_and_initiate(sandbox_factory):
    sb = sandbox_factory(readonly_sources=1)
    writable, _, readonly = sb.world.source_ids
    with api_client(sb) as api:
        customer_id = sb.world.add_content(writable, body="Where is my parcel?")
        before = sb.world.content_json(customer_id)
        assert before["status"] == "New"
        created = api.post(CONTENTS, json={"inReplyToContentId": customer_id, "body": "On its way"})
        assert created.status_code == 201, created.text
        reply = created.json()
        assert reply["status"] == "UserReply" and reply["inReplyToContentId"] == customer_id
        assert reply["creatorId"] == sb.world.owner_ext_id and reply["body"] == "On its way"
        assert reply["inReplyToAuthorIdentityId"] == before["authorIdentityId"]
        after = api.get(f"{CONTENTS}/{customer_id}").json()
        assert after["status"] == "Replied"
        assert after["lastModifiedTime"] >= before["lastModifiedTime"]
        started = api.post(CONTENTS, json={"channelId": writable, "body": "Offer 🎉"}).json()
        assert started["status"] == "UserInitiated" and started["firstInThread"] is True
        legacy = api.post(CONTENTS, json={"sourceId": writable, "body": "Gen-1 spelling"})
        assert legacy.status_code == 201
        readonly_msg = sb.world.add_content(readonly)
        denied = api.post(CONTENTS, json={"inReplyToContentId": readonly_msg, "body": "x"})
        assert denied.status_code == 403 and denied.json()["errors"][0]["errorCode"] == "EDI-019"
        denied = api.post(CONTENTS, json={"channelId": readonly, "body": "x"})
        assert denied.status_code == 403 and denied.json()["errors"][0]["errorCode"] == "EDI-017"
        for bad_body in (b"{not json", b"[1]"):
            bad = api.post(CONTENTS, content=bad_body, headers={"Content-Type": "application/json"})
            assert bad.status_code == 400 and bad.json()["errors"][0]["errorCode"] == "EDI-030"
        missing = api.post(CONTENTS, json={"body": "no channel"})
        assert missing.status_code == 400 and missing.json()["errors"][0]["errorCode"] == "EDI-025"


def test_world_mutations_are_served(sandbox_factory):
    sb = sandbox_factory(contents=500)
    source_id = sb.world.source_ids[0]
    with api_client(sb) as api:
        target = sorted(sb.world.content_ids(source_id))[0]
        old = api.get(f"{CONTENTS}/{target}").json()
        sb.world.edit_content(target, body="changed ✏️")
        sb.world.delete_remotely(target)
        new = api.get(f"{CONTENTS}/{target}").json()
        assert new["body"] == "changed ✏️" and new["remotelyDeleted"] is True
        assert new["lastModifiedTime"] > old["lastModifiedTime"]
        newest = api.get(CONTENTS, params={"sourceIds": source_id, "orderBy": "-lastModifiedTime",
                                           "perPage": 1}).json()["records"]  # fmt: skip
        assert newest[0]["id"] == target
        over_http = httpx.post(f"{sb.url}/_sandbox/contents", json={"sourceId": source_id}).json()
        assert over_http["id"] in sb.world.content_ids(source_id)
        edited = httpx.post(
            f"{sb.url}/_sandbox/contents/{over_http['id']}/edit", json={"body": "e"}
        )
        assert edited.json()["body"] == "e"
