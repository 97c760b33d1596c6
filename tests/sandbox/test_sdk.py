"""The official RingCentral Python SDK works against the sandbox unchanged."""

from __future__ import annotations

from ringcentral import SDK

from sandbox.config import SandboxConfig
from sandbox.world import World
from tests.sandbox.support import unsigned


def test_official_sdk_logs_in_and_pages_one_source(sandbox):
    env = sandbox.env
    platform = SDK(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"], env["RC_SERVER_URL"])
    platform = platform.platform()
    platform.login(jwt=env["RC_USER_JWT"])
    source_id = env["RC_SOURCE_IDS"].split(",")[0]
    seen: list[str] = []
    token = None
    while True:
        query = {"sourceIds": [source_id], "perPage": 250, "orderBy": "+creationTime"}
        if token:
            query["pageToken"] = token
        body = platform.get("/cx/social-messaging/v1/contents", query).json_dict()
        seen += [record["id"] for record in body["records"]]
        assert all(record["channelId"] == source_id for record in body["records"])
        token = body["paging"].get("nextPageToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) > 250
    assert set(seen) == sandbox.world.content_ids(source_id)
    me = platform.get("/restapi/v1.0/account/~/extension/~").json_dict()
    assert str(me["id"]) == sandbox.world.owner_ext_id


def test_same_seed_same_data_other_seed_other_data():
    fixed_now = 1_750_000_000_000
    first = World(SandboxConfig(seed=11, contents=500, now_ms=fixed_now))
    second = World(SandboxConfig(seed=11, contents=500, now_ms=fixed_now))
    other = World(SandboxConfig(seed=12, contents=500, now_ms=fixed_now))
    assert first.source_ids == second.source_ids
    # Equal but for the attachment links, which each serving signs anew.
    assert unsigned(list(first.all_contents())) == unsigned(list(second.all_contents()))
    assert set(first.source_ids).isdisjoint(other.source_ids)
    assert [c["body"] for c in first.all_contents()] != [c["body"] for c in other.all_contents()]


def test_env_holds_every_setting_and_only_readable_sources(sandbox):
    env = sandbox.env
    assert set(env) == {
        "RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT", "RC_SOURCE_IDS",
    }  # fmt: skip
    assert env["RC_SOURCE_IDS"].split(",") == sandbox.world.source_ids
    assert len(sandbox.world.source_ids) == 3
    assert sandbox.world.hidden_source_ids
    assert env["RC_USER_JWT"].count(".") == 2
    assert env["RC_APP_CLIENT_SECRET"] not in repr(sandbox.credentials)
