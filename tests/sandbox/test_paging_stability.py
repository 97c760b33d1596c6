"""Keyset tokens: inserts during a +creationTime crawl never skip or repeat; replay works."""

from __future__ import annotations

from tests.sandbox.support import CONTENTS, api_client, crawl, unsigned


def test_contents_added_during_crawl_never_make_it_skip_or_repeat(sandbox_factory):
    sb = sandbox_factory(contents=1500)
    source_id = sb.world.source_ids[0]
    before = sb.world.content_ids(source_id)
    added: list[str] = []
    seen: list[str] = []
    token = None
    with api_client(sb) as api:
        while True:
            params = {"sourceIds": source_id, "orderBy": "+creationTime", "perPage": 40}
            if token:
                params["pageToken"] = token
            body = api.get(CONTENTS, params=params).json()
            seen += [r["id"] for r in body["records"]]
            added.append(sb.world.add_content(source_id))  # new content mid-crawl
            sb.world.reply(added[-1])  # and a reply that modifies an older one
            token = body["paging"].get("nextPageToken")
            if not token:
                break
    assert len(seen) == len(set(seen)), "a content was served twice"
    assert before <= set(seen), "an older content was skipped"


def test_saved_token_replays_same_page_plus_newer_records(sandbox_factory):
    sb = sandbox_factory(contents=800)
    source_id = sb.world.source_ids[1]
    with api_client(sb) as api:
        records = crawl(api, {"sourceIds": source_id, "orderBy": "+creationTime"}, per_page=1000)
        last_page = api.get(CONTENTS, params={"sourceIds": source_id, "orderBy": "+creationTime",
                                              "perPage": 1000}).json()  # fmt: skip
        saved = last_page["paging"]["pageToken"]
        assert "nextPageToken" not in last_page["paging"]
        new_ids = [sb.world.add_content(source_id) for _ in range(3)]
        replay = api.get(CONTENTS, params={"sourceIds": source_id, "pageToken": saved,
                                           "perPage": 1000}).json()  # fmt: skip
        replay_ids = [r["id"] for r in replay["records"]]
        assert replay_ids == [r["id"] for r in records] + new_ids
        again = api.get(CONTENTS, params={"sourceIds": source_id, "pageToken": saved,
                                          "perPage": 1000}).json()  # fmt: skip
        assert [r["id"] for r in again["records"]] == replay_ids


def test_descending_tokens_are_stable_too(sandbox, api):
    source_id = sandbox.world.source_ids[2]
    first = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 50}).json()
    token = first["paging"]["nextPageToken"]
    page_a = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 50, "pageToken": token})
    page_b = api.get(CONTENTS, params={"sourceIds": source_id, "perPage": 50, "pageToken": token})
    assert unsigned(page_a.json()) == unsigned(page_b.json())  # links are signed per serving
    assert page_a.json()["records"][0]["creationTime"] <= first["records"][-1]["creationTime"]
