"""Every fault option, set at runtime through sb.faults or POST /_sandbox/faults.

These are deliberate test doubles for failures a real API shows rarely (5xx, drops, slowness).
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox.support import CONTENTS, api_client, crawl, unsigned


@pytest.fixture
def faulty(sandbox_factory):
    sb = sandbox_factory(contents=600)
    with api_client(sb) as api:
        yield sb, api


def test_error_5xx_ratio(faulty):
    sb, api = faulty
    sb.faults.set("contents", error_5xx_ratio=1.0)
    response = api.get(CONTENTS)
    assert response.status_code == 503 and response.json()["errors"][0]["errorCode"] == "CMN-201"
    assert api.get(f"{CONTENTS}/{sb.world.content_id(0)}").status_code != 503  # other endpoint
    sb.faults.set("contents", error_5xx_ratio=0.5)
    statuses = [api.get(CONTENTS, params={"perPage": 1}).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) > 5


def test_burst_429_then_normal(faulty):
    sb, api = faulty
    sb.faults.set("/cx/", burst_429=2)
    assert [api.get(CONTENTS).status_code for _ in range(3)] == [429, 429, 200]
    assert sb.stats.count_429 == 2


def test_slow_seconds(faulty):
    sb, api = faulty
    sb.faults.set("identities", slow_seconds=0.4)
    started = time.perf_counter()
    assert api.get("/cx/social-messaging/v1/identities").status_code == 200
    assert time.perf_counter() - started >= 0.4


def test_drop_connection_gives_a_transport_error(faulty):
    sb, api = faulty
    sb.faults.set("contents", drop_connection_ratio=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get(CONTENTS)
    sb.faults.clear("contents")
    assert api.get(CONTENTS).status_code == 200


def test_refuse_page_tokens(faulty):
    sb, api = faulty
    first = api.get(CONTENTS, params={"perPage": 10}).json()
    sb.faults.set("contents", refuse_page_tokens=True)
    refused = api.get(
        CONTENTS, params={"perPage": 10, "pageToken": first["paging"]["nextPageToken"]}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["errorCode"] == "EDI-034"
    assert api.get(CONTENTS, params={"perPage": 10}).status_code == 200


def test_ignore_source_filter_dialect(faulty):
    sb, api = faulty
    source_id = sb.world.source_ids[0]
    sb.faults.set("contents", ignore_source_filter=True)
    ignored = crawl(api, {"sourceIds": source_id}, per_page=1000)
    assert {r["channelId"] for r in ignored} == set(sb.world.source_ids)
    honoured = crawl(api, {"channelIds": source_id}, per_page=1000)
    assert {r["channelId"] for r in honoured} == {source_id}


def test_malformed_records_are_deterministic(faulty):
    sb, api = faulty
    sb.faults.set("contents", malformed_ratio=0.2)
    first = api.get(CONTENTS, params={"perPage": 300}).json()["records"]
    second = api.get(CONTENTS, params={"perPage": 300}).json()["records"]
    assert unsigned(first) == unsigned(second)  # attachment links are signed per serving
    broken = [r for r in first if "id" not in r or not isinstance(r["creationTime"], str)
              or r["creationTime"].startswith("2024-13")]  # fmt: skip
    assert 20 < len(broken) < 120


def test_faults_over_http_and_expire_tokens(faulty):
    sb, api = faulty
    set_ = httpx.post(f"{sb.url}/_sandbox/faults",
                      json={"endpoint": "contents", "settings": {"burst_429": 1}})  # fmt: skip
    assert set_.json()["contents"]["burst_429"] == 1
    assert api.get(CONTENTS).status_code == 429
    httpx.post(f"{sb.url}/_sandbox/faults", json={"expire_tokens": True})
    assert api.get(CONTENTS).json()["errors"][0]["errorCode"] == "OAU-128"
    bad = httpx.post(f"{sb.url}/_sandbox/faults", json={"settings": {"nonsense": 1}})
    assert bad.status_code == 400 and "nonsense" in bad.text
    stats = httpx.get(f"{sb.url}/_sandbox/stats").json()
    assert stats["count_429"] == 1 and stats["requests"] >= 2
    httpx.post(f"{sb.url}/_sandbox/reset-stats")
    assert sb.stats.requests() == 0
