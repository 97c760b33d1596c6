"""Attachment links: signed afresh on every serving (listing, GET, webhook), each valid for its
own TTL, refused with 403 once expired or revoked; stable links only when asked for."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox import files
from sandbox.__main__ import _parser
from sandbox.config import SandboxConfig
from tests.sandbox.support import CONTENTS, Receiver, api_client


def _with_attachments(sb, source_index: int = 0) -> dict:
    source_id = sb.world.source_ids[source_index]
    return next(c for c in sb.world.all_contents(source_id) if c["attachments"])


def _query(uri: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(uri).query).items()}


def _download(uri: str) -> httpx.Response:
    return httpx.get(uri, timeout=10.0)  # no bearer token: the link is the credential


def _error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["errorCode"]


def test_two_gets_of_one_content_carry_different_links_to_the_same_bytes(sandbox, api):
    content_id = _with_attachments(sandbox, 1)["id"]
    first = api.get(f"{CONTENTS}/{content_id}").json()["attachments"][0]
    second = api.get(f"{CONTENTS}/{content_id}").json()["attachments"][0]
    listed = next(
        r
        for r in api.get(
            CONTENTS, params={"sourceIds": sandbox.world.source_ids[1], "perPage": 1000}
        ).json()["records"]
        if r["id"] == content_id
    )["attachments"][0]

    links = [first["uri"], second["uri"], listed["uri"]]
    assert len({_query(uri)["sig"] for uri in links}) == 3  # each serving signs its own link
    assert len({_query(uri)["n"] for uri in links}) == 3
    assert {uri.split("?")[0] for uri in links} == {links[0].split("?")[0]}
    assert {a["id"] for a in (first, second, listed)} == {first["id"]}
    spec = sandbox.world.attachment(first["id"])
    bodies = [_download(uri) for uri in links]
    assert [b.status_code for b in bodies] == [200, 200, 200]
    assert {hashlib.sha256(b.content).hexdigest() for b in bodies} == {
        files.blob_sha256(sandbox.cfg.seed, spec)
    }
    assert all(len(b.content) == first["size"] for b in bodies)


def test_each_link_expires_on_its_own_clock(sandbox_factory):
    sb = sandbox_factory(contents=200, sources=1, attachment_link_ttl_seconds=3600)
    before = sb.world.clock_ms()
    attachment = _with_attachments(sb)["attachments"][0]
    exp = int(_query(attachment["uri"])["exp"])
    assert before + 3_600_000 <= exp <= sb.world.clock_ms() + 3_600_000  # TTL from serving
    later = _with_attachments(sb)["attachments"][0]
    assert int(_query(later["uri"])["exp"]) >= exp
    assert _download(attachment["uri"]).status_code == 200  # the older link still works
    assert _download(later["uri"]).status_code == 200

    # A link the world signed whose exp has passed (forged with the world's key, served never).
    past = sb.world.clock_ms() - 1
    serial = int(_query(attachment["uri"])["n"])
    base = attachment["uri"].split("?")[0]
    sig = files.sign(sb.cfg.seed, attachment["id"], past, serial)
    stale = f"{base}?exp={past}&n={serial}&sig={sig}"
    refused = _download(stale)
    assert refused.status_code == 403 and _error_code(refused) == "ATT-403"


def test_revoked_links_are_refused_and_links_served_after_work(sandbox_factory):
    sb = sandbox_factory(contents=200, sources=1)
    content = _with_attachments(sb)
    old = content["attachments"][0]["uri"]
    assert _download(old).status_code == 200

    sb.faults.expire_links_now()

    refused = _download(old)
    assert refused.status_code == 403 and _error_code(refused) == "ATT-403"
    with api_client(sb) as api:
        fresh = api.get(f"{CONTENTS}/{content['id']}").json()
    assert fresh["lastModifiedTime"] == content["lastModifiedTime"]  # a re-signed link only
    assert _download(fresh["attachments"][0]["uri"]).status_code == 200
    assert sb.stats.status_count(403) == 1 and sb.stats.requests(group="Files") == 3


def test_a_changed_or_foreign_link_is_refused_as_unsigned(sandbox_factory):
    sb = sandbox_factory(contents=200, sources=1)
    attachment = _with_attachments(sb)["attachments"][0]
    uri = attachment["uri"]
    query = _query(uri)
    base = uri.split("?")[0]
    unserialed = files.sign(sb.cfg.seed, attachment["id"], int(query["exp"]))  # a stable link's
    tampered = [
        f"{base}?exp={int(query['exp']) + 1}&n={query['n']}&sig={query['sig']}",
        f"{base}?exp={query['exp']}&n={int(query['n']) + 1}&sig={query['sig']}",
        f"{base}?exp={query['exp']}&n={query['n']}&sig={'0' * 32}",
        f"{base}?exp={query['exp']}&sig={unserialed}",
    ]
    for link in tampered:
        refused = _download(link)
        assert refused.status_code == 403 and _error_code(refused) == "ATT-401", link


def test_a_webhook_payload_carries_its_own_fresh_link(sandbox_factory):
    sb = sandbox_factory(contents=100, sources=1)
    receiver = Receiver()
    try:
        with api_client(sb) as api:
            created = api.post(
                "/restapi/v1.0/subscription",
                json={
                    "eventFilters": ["/cx/social-messaging/v1/contents/Imported"],
                    "deliveryMode": {"transportType": "WebHook", "address": receiver.url},
                },
            )
            assert created.status_code == 200, created.text
            content_id = sb.world.add_content(sb.world.source_ids[0], with_attachments=True)
            deadline = time.monotonic() + 10
            while not receiver.notifications and time.monotonic() < deadline:
                time.sleep(0.02)
            pushed = receiver.notifications[0][1]["body"]["resource"]
            got = api.get(f"{CONTENTS}/{content_id}").json()
    finally:
        receiver.close()
    assert pushed["id"] == content_id and pushed["attachments"]
    pushed_uri, got_uri = pushed["attachments"][0]["uri"], got["attachments"][0]["uri"]
    assert _query(pushed_uri)["sig"] != _query(got_uri)["sig"]
    assert _download(pushed_uri).content == _download(got_uri).content


def test_a_removed_attachment_is_no_longer_listed_and_its_links_are_404(sandbox_factory):
    sb = sandbox_factory(contents=200, sources=1)
    content = _with_attachments(sb)
    gone = content["attachments"][0]
    sb.world.remove_attachment(gone["id"])
    now = sb.world.content_json(content["id"])
    assert gone["id"] not in {a["id"] for a in now["attachments"]}
    assert now["lastModifiedTime"] >= content["lastModifiedTime"]
    assert sb.world.attachment(gone["id"]) is None
    assert _download(gone["uri"]).status_code == 404


def test_stable_links_are_an_explicit_option(sandbox_factory):
    sb = sandbox_factory(contents=200, sources=1, attachment_links="stable")
    content = _with_attachments(sb)
    with api_client(sb) as api:
        again = api.get(f"{CONTENTS}/{content['id']}").json()
    assert again["attachments"][0]["uri"] == content["attachments"][0]["uri"]
    assert "n" not in _query(content["attachments"][0]["uri"])
    assert _download(content["attachments"][0]["uri"]).status_code == 200
    sb.faults.expire_links_now()  # re-issues them all
    reissued = sb.world.content_json(content["id"])["attachments"][0]["uri"]
    assert reissued != content["attachments"][0]["uri"]
    assert _download(content["attachments"][0]["uri"]).status_code == 403
    assert _download(reissued).status_code == 200


def test_the_link_mode_is_checked_and_the_cli_can_choose_it():
    assert SandboxConfig().attachment_links == "rotating"
    with pytest.raises(ValueError, match="attachment_links"):
        SandboxConfig(attachment_links="sometimes")  # type: ignore[arg-type]
    args = _parser().parse_args(["serve", "--attachment-links", "stable"])
    assert args.attachment_links == "stable" and args.attachment_link_ttl == 86400.0
    assert _parser().parse_args(["serve"]).attachment_links == "rotating"
