"""Paging against the sandbox over real HTTP: complete crawls, resume, filters, identities."""

from __future__ import annotations

from pipelines.ringcentral import errors
from tests.ringcentral.support import crawl_ids


def test_full_crawl_of_a_source_equals_the_world(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    source_id = sandbox.world.source_ids[0]
    ids = crawl_ids(client, source_id, per_page=100)
    assert len(ids) == len(set(ids)), "a crawl served a content twice"
    assert set(ids) == sandbox.world.content_ids(source_id)
    assert len(ids) > 100, "the world is too small to exercise paging"


def test_every_source_and_both_orders(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    for source_id in sandbox.world.source_ids:
        ascending = crawl_ids(client, source_id, order_by="+creationTime", per_page=1000)
        descending = crawl_ids(client, source_id, order_by="-creationTime", per_page=1000)
        assert set(ascending) == sandbox.world.content_ids(source_id)
        assert ascending == list(reversed(descending))


def test_pages_carry_replayable_tokens(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    source_id = sandbox.world.source_ids[0]
    pages = list(client.iter_content_pages(source_id, per_page=50))
    assert pages[-1].next_page_token is None
    assert all(page.next_page_token for page in pages[:-1])
    replayed = next(
        client.iter_content_pages(source_id, per_page=50, page_token=pages[2].page_token)
    )
    assert [r["id"] for r in replayed.records] == [r["id"] for r in pages[2].records]


def test_resume_from_a_saved_page_token(sandbox, make_client) -> None:
    """A crash after page 2 resumes from the token saved with it, in a new client."""
    source_id = sandbox.world.source_ids[1]
    first_client = make_client(sandbox.env)
    archived: list[str] = []
    saved_token = None
    for number, page in enumerate(first_client.iter_content_pages(source_id, per_page=40)):
        archived.extend(r["id"] for r in page.records)
        saved_token = page.next_page_token
        if number == 1:
            break
    first_client.close()
    assert saved_token is not None

    second_client = make_client(sandbox.env)
    archived.extend(crawl_ids(second_client, source_id, per_page=40, page_token=saved_token))
    assert len(archived) == len(set(archived))
    assert set(archived) == sandbox.world.content_ids(source_id)


def test_filters_narrow_the_result(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    source_id = sandbox.world.source_ids[0]
    some = next(client.iter_content_pages(source_id, per_page=20)).records
    thread_id = some[0]["threadId"]
    in_thread = [
        r for p in client.iter_content_pages(source_id, thread_ids=[thread_id]) for r in p.records
    ]
    assert in_thread and all(r["threadId"] == thread_id for r in in_thread)
    replied = [
        r for p in client.iter_content_pages(source_id, status=["Replied"]) for r in p.records
    ]
    assert replied and all(r["status"] == "Replied" for r in replied)
    outgoing = [
        r
        for p in client.iter_content_pages(source_id, content_direction="Outgoing")
        for r in p.records
    ]
    assert outgoing and all(r.get("contentDirection") == "Outgoing" for r in outgoing)


def test_get_content_returns_the_world_json(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    content_id = sorted(sandbox.world.content_ids(sandbox.world.source_ids[0]))[0]
    assert client.get_content(content_id) == sandbox.world.content_json(content_id)


def test_identities_by_source_and_by_id(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    source_id = sandbox.world.source_ids[0]
    pages = list(client.iter_identity_pages(source_id=source_id, per_page=25))
    identities = [r for p in pages for r in p.records]
    assert len(pages) > 1 and identities
    ids = [r["id"] for r in identities]
    assert len(ids) == len(set(ids))
    assert client.get_identity(ids[0]) == identities[0]


def test_extensions_by_id_and_listed(sandbox, make_client) -> None:
    from sandbox.extensions import extension_ids

    client = make_client(sandbox.env)
    listed = list(client.iter_extensions(per_page=2))  # several pages of 2
    assert sorted(str(e["id"]) for e in listed) == sorted(extension_ids(sandbox.world))
    extension = client.get_extension(listed[0]["id"])
    assert extension["id"] == listed[0]["id"]


def test_unknown_extension_is_not_found_cmn_102(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    try:
        client.get_extension("1")
    except errors.NotFound as exc:
        assert exc.error_code == "CMN-102" and exc.status == 404
    else:
        raise AssertionError("an unknown extension was returned")
