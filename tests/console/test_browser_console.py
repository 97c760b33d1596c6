"""The console in a real browser: each role logs in and does its work through the pages (forms,
links, downloads), every other role's pages are refused with no data, and every action leaves
one access event naming the console user.

One archive, one `rc-archive console` child and one Chromium per module (tests/console/browser.py);
each test opens its own browser context, so no cookie or session crosses tests, and counts the
access events its own actions added (a test that runs alone, or on another worker, still holds).
"""

from __future__ import annotations

import email
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import (
    BODY_AFTER,
    BODY_BEFORE,
    TERM,
    Site,
    browser_session,
    console_site,
    log_in,
    shown_message_texts,
    trail_events,
    trail_length,
)

pytestmark = pytest.mark.slow

HOMES = {"reviewer": "/review", "auditor": "/search", "admin": "/holds"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with console_site(tmp_path_factory.mktemp("console-browser")) as running:
        yield running


def _path(page: Page) -> str:
    return urlparse(page.url).path


def _saved(download) -> bytes:
    return Path(download.path()).read_bytes()


def _events_of(site: Site, since: int, user: str) -> list[dict]:
    """The access events stored since `since`: every one names `user` and succeeded."""
    events = trail_events(site.archive, after=since)
    assert events and {(e["user"], e["status"]) for e in events} == {(user, "ok")}, events
    return events


def _one_event(events: list[dict], route: str, **arguments: object) -> dict:
    """The single event of one action: its route and the arguments it recorded."""
    found = [
        event
        for event in events
        if event["console"]["route"] == route
        and all(event["arguments"].get(k) == v for k, v in arguments.items())
    ]
    assert len(found) == 1, (route, arguments, [e["console"]["route"] for e in events])
    return found[0]


def test_each_role_logs_in_to_its_home_and_out_again(site: Site):
    for role, home in HOMES.items():
        with browser_session(site) as page:
            log_in(page, site.users[role])
            assert _path(page) == home
            expect(page.locator("body")).to_contain_text(site.users[role].name)
            # The session cookie is HttpOnly: the page's scripts cannot read it.
            assert page.context.cookies() and page.evaluate("document.cookie") == ""
            page.click("#logout")
            expect(page.locator("#login-form")).to_be_visible()
            page.goto(home)  # the session is gone: the login page again, not the home page
            expect(page.locator("#login-form")).to_be_visible()
            assert page.locator("#logout-form").count() == 0


def test_a_wrong_password_is_refused_on_the_login_page(site: Site):
    with browser_session(site) as page:
        page.goto("/login")
        page.fill("#login-form input[name=username]", site.users["auditor"].name)
        page.fill("#login-form input[name=password]", "not the password")
        with page.expect_response(lambda r: urlparse(r.url).path == "/login") as answer:
            page.click("#login-submit")
        assert answer.value.status == 401
        expect(page.locator("#login-error")).to_be_visible()
        assert shown_message_texts(page, site.archive) == []


def test_the_auditor_searches_reads_the_edit_downloads_a_file_and_exports(site: Site):
    archive, auditor = site.archive, site.users["auditor"]
    since = trail_length(archive)
    with browser_session(site) as page:
        log_in(page, auditor)
        page.fill("#search-form input[name=q]", TERM)
        page.click("#search-submit")
        links = page.locator(".hit a.hit-thread")
        expect(links.first).to_be_visible()
        thread_href = f"/thread/{archive.source_id}/{archive.thread_id}"
        assert set(links.evaluate_all("els => els.map(e => e.getAttribute('href'))")) == {
            thread_href
        }

        links.first.click()
        expect(page.locator("#timeline")).to_be_visible()
        assert _path(page) == thread_href
        edit = page.locator('.version[data-version-kind="edit"]')
        expect(edit).to_have_count(1)
        expect(edit).to_contain_text(BODY_AFTER)
        original = page.locator('.version[data-version-kind="original"]')
        expect(original.filter(has_text=BODY_BEFORE)).to_have_count(1)
        # What the refusal checks below look for is found on a page that shows messages.
        assert {BODY_BEFORE, BODY_AFTER} <= set(shown_message_texts(page, archive))

        href = f"/attachment/{archive.content_id}/{archive.attachment_id}"
        with page.expect_download() as download:
            page.locator(f'a.attachment[href="{href}"]').first.click()
        assert _saved(download.value) == archive.attachment_bytes

        page.goto("/exports")
        page.select_option("#export-form select[name=format]", "rsmf")
        page.fill("#export-form [name=thread]", archive.thread_id)
        page.click("#export-submit")
        expect(page.locator("#export-download")).to_be_visible()
        export_page = _path(page)
        assert re.fullmatch(r"/exports/[^/]+", export_page)
        with page.expect_download() as download:
            page.click("#export-download")
        production = _saved(download.value)
    _check_rsmf_production(production, archive.attachment_bytes)

    events = _events_of(site, since, auditor.name)
    _one_event(events, "/search", q=TERM)
    _one_event(events, thread_href)
    _one_event(events, href)
    created = _one_event(events, "/exports", format="rsmf", thread=archive.thread_id)
    _one_event(events, f"{export_page}/download", export_id=created["arguments"]["export_id"])


def _check_rsmf_production(production: bytes, attachment: bytes) -> None:
    """The zip holds a manifest whose hashes match its files and the thread's .rsmf, whose own
    zip holds the edited message and the attachment's bytes."""
    with zipfile.ZipFile(io.BytesIO(production)) as outer:
        names = outer.namelist()
        manifest_name = next(n for n in names if n.endswith("manifest.json"))
        manifest = json.loads(outer.read(manifest_name))
        prefix = manifest_name[: -len("manifest.json")]
        for entry in manifest["files"]:
            data = outer.read(prefix + entry["path"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        rsmf_names = [n for n in names if n.endswith(".rsmf")]
        assert len(rsmf_names) == 1, names
        message = email.message_from_bytes(outer.read(rsmf_names[0]))
    inner = next(
        part.get_payload(decode=True)
        for part in message.walk()
        if part.get_filename() == "rsmf.zip"
    )
    with zipfile.ZipFile(io.BytesIO(inner)) as rsmf:
        events = json.loads(rsmf.read("rsmf_manifest.json"))["events"]
        assert any(event.get("body") == BODY_AFTER for event in events)
        assert hashlib.sha256(attachment).hexdigest() in rsmf.namelist()


def test_the_reviewer_claims_and_decides_an_item_and_sees_it_in_the_history(site: Site):
    archive, reviewer = site.archive, site.users["reviewer"]
    since = trail_length(archive)
    reason = "Damage report handled by a replacement; nothing to escalate"
    with browser_session(site) as page:
        log_in(page, reviewer)
        expect(page.locator("#review-queue .review-item").first).to_be_visible()
        flag_id = archive.followed_flag_ids[0]
        item = page.locator(f'#review-queue .review-item[data-flag-id="{flag_id}"]')
        expect(item).to_have_count(1)
        item.locator("a").first.click()
        assert _path(page) == f"/review/{flag_id}"
        expect(page.locator("#history")).to_be_visible()
        expect(page.locator("main")).to_contain_text(TERM)

        page.locator("#claim-form button").click()
        expect(page.locator("#history")).to_contain_text(reviewer.name)
        page.select_option("#decide-form select[name=decision]", "cleared")
        page.fill("#decide-form textarea[name=reason]", reason)
        page.click("#decide-submit")
        expect(page.locator("#history")).to_contain_text(reason)
        expect(page.locator("#history")).to_contain_text("cleared")

        page.goto("/review")
        expect(page.locator("#review-queue")).to_be_visible()
        expect(item).to_have_count(0)

        # The thread of a flagged item is the reviewer's to read (any other is not: below).
        thread = f"/thread/{archive.source_id}/{archive.thread_id}"
        assert page.goto(thread).status == 200
        expect(page.locator("#timeline")).to_contain_text(BODY_AFTER)

    events = _events_of(site, since, reviewer.name)
    _one_event(events, f"/review/{flag_id}/claim", action="claim")
    _one_event(events, f"/review/{flag_id}/decide", action="decide", decision="cleared")
    _one_event(events, thread)


def test_the_admin_holds_a_thread_releases_it_and_reads_the_access_log(site: Site):
    archive, admin = site.archive, site.users["admin"]
    since = trail_length(archive)
    matter = "matter-quokka-lamp"
    with browser_session(site) as page:
        log_in(page, admin)
        page.fill("#hold-form [name=matter]", matter)
        page.select_option("#hold-form [name=by]", "thread")
        page.fill("#hold-form [name=value]", archive.thread_id)
        page.fill("#hold-form [name=reason]", "Customer threatens to sue over the quokka lamp")
        page.click("#hold-submit")
        row = page.locator(f'#holds .hold[data-matter="{matter}"]')
        expect(row).to_be_visible()
        expect(row.locator(".release-form")).to_have_count(1)

        row.locator(".release-form textarea[name=reason]").fill("Claim settled")
        row.locator(".release-form button").click()
        expect(page.locator(f'#holds .hold[data-matter="{matter}"] .release-form')).to_have_count(0)

        page.goto("/access")
        log = page.locator("#access-log .access-event")
        expect(log.first).to_be_visible()
        expect(page.locator("#access-log")).to_contain_text(admin.name)

    events = _events_of(site, since, admin.name)
    _one_event(events, "/holds", action="place", matter=matter, value=archive.thread_id)
    _one_event(events, f"/holds/{matter}/release", action="release", matter=matter)
    _one_event(events, "/access")


def _refused(page: Page, site: Site, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 403, (path, response and response.status)
    assert shown_message_texts(page, site.archive) == [], path
    text = page.locator("body").inner_text()
    assert TERM not in text and site.archive.thread_id not in text, path


def test_every_role_is_refused_the_pages_of_the_others_with_no_data(site: Site):
    archive = site.archive
    thread = f"/thread/{archive.source_id}/{archive.thread_id}"
    other_thread = f"/thread/{archive.source_id}/{archive.unflagged_thread_id}"
    attachment = f"/attachment/{archive.content_id}/{archive.attachment_id}"
    with browser_session(site) as page:
        log_in(page, site.users["reviewer"])
        flag_id = page.locator("#review-queue .review-item").first.get_attribute("data-flag-id")
    refused = {
        "reviewer": [
            f"/search?q={TERM}",
            other_thread,
            attachment,
            "/exports",
            "/report",
            "/holds",
            "/users",
            "/access",
        ],
        "auditor": ["/review", f"/review/{flag_id}", "/holds", "/users", "/access"],
        "admin": [
            f"/search?q={TERM}",
            thread,
            attachment,
            "/exports",
            "/report",
            "/review",
            f"/review/{flag_id}",
        ],
    }
    for role, paths in refused.items():
        with browser_session(site) as page:
            log_in(page, site.users[role])
            for path in paths:
                _refused(page, site, path)


def test_a_form_posted_across_roles_is_refused_even_with_a_valid_csrf_token(site: Site):
    """The session's own token (every page's logout form carries it) does not open another
    role's action: the role is checked on the POST, not only on the page holding the form."""
    archive = site.archive
    with browser_session(site) as page:
        log_in(page, site.users["reviewer"])
        flag_id = page.locator("#review-queue .review-item").first.get_attribute("data-flag-id")
    hold = {"matter": "m-x", "by": "thread", "value": archive.thread_id, "reason": "x"}
    attempts = {
        "auditor": [
            ("/holds", hold),
            (f"/review/{flag_id}/decide", {"decision": "cleared", "reason": "x"}),
        ],
        "admin": [
            (f"/review/{flag_id}/claim", {}),
            ("/exports", {"format": "rsmf", "thread": archive.thread_id}),
        ],
        "reviewer": [
            ("/holds", hold),
            ("/exports", {"format": "rsmf", "thread": archive.thread_id}),
        ],
    }
    for role, posts in attempts.items():
        with browser_session(site) as page:
            log_in(page, site.users[role])
            token = page.locator("#logout-form input[name=csrf]").input_value()
            for path, form in posts:
                answer = page.request.post(path, form={**form, "csrf": token}, max_redirects=0)
                assert answer.status == 403, (role, path, answer.status)
                assert BODY_AFTER not in answer.text() and TERM not in answer.text()
