"""An auditor's reading over real HTTP: a search hit leads to its thread, the thread shows every
version of its messages (original, edit, deletion on the channel), an attachment downloads with
exactly the archived bytes; each of those requests is one access event naming the auditor."""

from __future__ import annotations

import re

from tests.console.support import EDITED_BODY, access_events, sha256, signed_in


def test_search_hit_thread_versions_and_attachment_bytes(server, console_archive):
    root = console_archive["root"]
    source, thread = console_archive["source_id"], console_archive["thread_id"]
    attachment = console_archive["attachment"]
    before = len(access_events(root))
    with signed_in(server, "adam") as client:
        found = client.get("/search", params={"q": "archived review"})
        assert found.status_code == 200
        hits = re.findall(r'<a class="hit-thread" href="([^"]+)"', found.text)
        assert f"/thread/{source}/{thread}" in hits
        assert EDITED_BODY in found.text  # the edited-in words are found, as a snippet

        page = client.get(f"/thread/{source}/{thread}")
        assert page.status_code == 200 and 'id="timeline"' in page.text
        kinds = re.findall(r'class="version" data-version-kind="(\w+)"', page.text)
        assert {"original", "edit", "deletion"} <= set(kinds)
        edited = page.text.split(f'data-content-id="{console_archive["edited"]}"')[1]
        edited = edited.split("</article>")[0]
        assert re.findall(r'data-version-kind="(\w+)"', edited) == ["original", "edit"]
        assert EDITED_BODY in edited
        deleted = page.text.split(f'data-content-id="{console_archive["deleted"]}"')[1]
        assert re.findall(r'data-version-kind="(\w+)"', deleted.split("</article>")[0]) == [
            "original",
            "deletion",
        ]
        href = f"/attachment/{attachment['content_id']}/{attachment['id']}"
        assert f'class="attachment" href="{href}"' in page.text

        download = client.get(href)
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/octet-stream"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert sha256(download.content) == attachment["sha256"]
        assert download.content == (root / attachment["object_key"]).read_bytes()

        # Filters narrow the hits; a hit outside them is not shown.
        narrowed = client.get("/search", params={"q": "archived review", "source": "0" * 24})
        assert 'class="hit"' not in narrowed.text
    events = access_events(root)[before:]
    assert [(e["command"], e["status"], e["user"]) for e in events] == [
        ("search", "ok", "adam"),
        ("thread", "ok", "adam"),
        ("attachment", "ok", "adam"),
        ("search", "ok", "adam"),
    ]
    assert events[0]["arguments"]["q"] == "archived review"
    assert events[1]["arguments"] == {"source_id": source, "thread_id": thread}
    assert events[2]["attachment"]["sha256"] == attachment["sha256"]
    assert events[3]["rows"] == 0
    assert all(e["console"]["client"] == "127.0.0.1" for e in events)


def test_a_bad_search_or_id_is_one_line_and_still_recorded(server, console_archive):
    root = console_archive["root"]
    before = len(access_events(root))
    with signed_in(server, "adam") as client:
        empty = client.get("/search", params={"source": "x"})
        assert empty.status_code == 400 and "give the words" in empty.text
        bad = client.get("/thread/not an id/x")
        assert bad.status_code == 400
        missing = client.get(f"/thread/{console_archive['source_id']}/000000000000000000000000")
        assert missing.status_code == 404 and "not in the audit catalog" in missing.text
        gone = client.get(f"/attachment/{console_archive['edited']}/nope")
        assert gone.status_code == 404
    events = access_events(root)[before:]
    # Refused input never reaches the archive; a read that found nothing is a failed event.
    assert [(e["command"], e["status"]) for e in events] == [
        ("thread", "failed"),
        ("attachment", "failed"),
    ]


def test_concurrent_readers_are_all_answered(server, console_archive):
    """Several people at once: DuckDB refuses a second catalog connection in one process while
    one is open, so the console takes turns (Console.exclusive); no request fails for it."""
    from concurrent.futures import ThreadPoolExecutor

    source, thread = console_archive["source_id"], console_archive["thread_id"]
    paths = [f"/thread/{source}/{thread}", "/search?q=review", "/report"] * 4
    with signed_in(server, "adam") as adam, signed_in(server, "rita") as rita:

        def fetch(index_path: tuple[int, str]) -> int:
            index, path = index_path
            client = rita if index % 4 == 3 else adam
            target = "/review" if client is rita else path
            return client.get(target).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(fetch, enumerate(paths)))
    assert codes == [200] * len(paths)


def test_the_empty_search_page_is_a_page_view_on_the_trail(server, console_archive):
    root = console_archive["root"]
    before = len(access_events(root))
    with signed_in(server, "adam") as client:
        form = client.get("/search")
        assert form.status_code == 200 and 'id="search-form"' in form.text
    [event] = access_events(root)[before:]
    assert (event["command"], event["status"], event["user"], event["rows"]) == (
        "search",
        "ok",
        "adam",
        0,
    )
    assert event["console"]["route"] == "/search" and event["arguments"]["q"] == ""
