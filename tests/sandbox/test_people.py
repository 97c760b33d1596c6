"""Identities (agents with userIds, customers without) and the Extension API."""

from __future__ import annotations

from tests.sandbox.support import IDENTITIES


def _all_identities(api, params):
    records, token = [], None
    while True:
        query = dict(params, perPage=100) | ({"pageToken": token} if token else {})
        body = api.get(IDENTITIES, params=query).json()
        records += body["records"]
        token = body["paging"].get("nextPageToken")
        if not token:
            return records


def test_identity_filters_and_paging(sandbox, api):
    source_id = sandbox.world.source_ids[0]
    everyone = _all_identities(api, {"channelId": source_id})
    assert len({r["id"] for r in everyone}) == len(everyone) > 50
    agents = _all_identities(api, {"channelId": source_id, "identityType": "Agent"})
    assert agents and all(r["userIds"] and r["identityType"] == "Agent" for r in agents)
    customers = _all_identities(api, {"sourceId": source_id, "identityType": "Customer"})
    assert all(r["userIds"] == [] for r in customers)
    assert len(agents) + len(customers) == len(everyone)
    user = agents[0]["userIds"][0]
    assert {r["id"] for r in _all_identities(api, {"userId": user})} >= {agents[0]["id"]}
    groups = f"{customers[0]['identityGroupId']},{customers[1]['identityGroupId']}"
    by_group = _all_identities(api, {"identityGroupIds": groups})
    assert {r["id"] for r in by_group} == {customers[0]["id"], customers[1]["id"]}
    one = api.get(f"{IDENTITIES}/{customers[0]['id']}")
    assert one.status_code == 200 and one.json() == customers[0]
    assert api.get(f"{IDENTITIES}/xyz").json()["errors"][0]["errorCode"] == "EDI-032"


def test_extensions_and_the_deleted_agent(sandbox, api):
    world = sandbox.world
    found = api.get(f"/restapi/v1.0/account/~/extension/{world.agent_ext_ids[0]}").json()
    assert found["id"] == int(world.agent_ext_ids[0]) and found["contact"]["email"]
    assert found["name"] == f"{found['contact']['firstName']} {found['contact']['lastName']}"
    deleted = world.agent_ext_ids[world.deleted_agent]
    missing = api.get(f"/restapi/v1.0/account/~/extension/{deleted}")
    assert missing.status_code == 404 and missing.json()["errors"][0]["errorCode"] == "CMN-102"
    creators = {c["creatorId"] for c in world.all_contents() if c["creatorId"]}
    assert deleted in creators, "some content was written by the agent whose extension is gone"
    page = api.get("/restapi/v1.0/account/~/extension", params={"perPage": 3}).json()
    assert page["paging"]["page"] == 1 and page["paging"]["perPage"] == 3
    assert page["paging"]["totalElements"] > 3 and "nextPage" in page["navigation"]
    assert len(page["records"]) == 3
