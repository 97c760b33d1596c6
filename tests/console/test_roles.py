"""Who may open what, over every route of the console: each role's pages answer 200, every
other role's answer 403 with a page that holds no archive data, for GET and POST alike; and
the headers of the security model are on every response, refused or not."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from console.app import pages
from console.security import SECURITY_HEADERS
from tests.console.support import (
    EDITED_BODY,
    USERS,
    access_events,
    page_csrf,
    signed_in,
)

ROLES = ("reviewer", "auditor", "admin")
USER_OF = {role: next(name for name, r in USERS.items() if r == role) for role in ROLES}


def _filled(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


@pytest.fixture
def values(server, console_archive) -> dict[str, str]:
    """A real value for every path parameter: the flagged thread, one of its flags, its
    attachment, an export made for the test."""
    thread = console_archive["thread_id"]
    flag = next(flag for flag, in_thread in console_archive["flags"] if in_thread == thread)
    with signed_in(server, USER_OF["auditor"]) as client:
        made = client.post(
            "/exports",
            data={
                "format": "rsmf",
                "thread": console_archive["thread_id"],
                "csrf": page_csrf(client, "/exports"),
            },
        )
        assert made.status_code == 303, made.text
    return {
        "source_id": console_archive["source_id"],
        "thread_id": console_archive["thread_id"],
        "flag_id": flag,
        "content_id": console_archive["attachment"]["content_id"],
        "attachment_id": console_archive["attachment"]["id"],
        "export_id": made.headers["location"].rsplit("/", 1)[1],
        "matter": "no-such-matter",
    }


def _no_data(body: str, archive: dict[str, Any], values: dict[str, str]) -> None:
    """A refusal page names nothing of the archive."""
    for secret in (
        archive["source_id"],
        archive["thread_id"],
        archive["attachment"]["sha256"],
        values["flag_id"][:12],
        values["export_id"],
        EDITED_BODY,
        "review-word",
        *(name for name in USERS if name not in body.split('class="who">')[1][:40]),
    ):
        assert secret not in body, secret


def test_every_route_answers_its_roles_and_refuses_the_others(server, console_archive, values):
    # Every signed-in route but the two every role has (home, sign out: tested on their own).
    routes = [p for p in pages() if p.roles is not None and p.path not in ("/", "/logout")]
    checked = set()
    for role in ROLES:
        with signed_in(server, USER_OF[role]) as client:
            csrf = page_csrf(client)
            for page in routes:
                for method in page.methods:
                    path = _filled(page.path, values)
                    checked.add((method, page.path))
                    if method == "POST":
                        answer = client.post(path, data={"csrf": csrf})
                    else:
                        answer = client.get(path)
                    if role in page.roles:
                        if method == "GET":
                            assert answer.status_code == 200, (role, path, answer.text[-500:])
                        else:  # an empty form: refused as incomplete, never as forbidden
                            assert answer.status_code in (303, 400, 404, 409), (role, path)
                    else:
                        assert answer.status_code == 403, (role, method, path)
                        assert 'id="refused"' in answer.text
                        _no_data(answer.text, console_archive, values)
    # Every route of the console was tried.
    assert checked == {(m, p.path) for p in routes for m in p.methods}


def test_a_reviewer_opens_only_threads_that_hold_a_flag(server, console_archive):
    flagged = {thread for _, thread in console_archive["flags"]}
    other = next(thread for thread in console_archive["threads"] if thread not in flagged)
    source = console_archive["source_id"]
    with signed_in(server, USER_OF["reviewer"]) as client:
        allowed = client.get(f"/thread/{source}/{console_archive['thread_id']}")
        assert allowed.status_code == 200 and 'id="timeline"' in allowed.text
        # A reviewer sees the attachment's name, not a download link (auditors download).
        assert 'class="attachment"' not in allowed.text
        before = len(access_events(console_archive["root"]))
        refused = client.get(f"/thread/{source}/{other}")
        assert refused.status_code == 403
        assert other not in refused.text.replace(f"/thread/{source}/{other}", "")
        assert 'class="version"' not in refused.text
        assert len(access_events(console_archive["root"])) == before


def test_every_response_carries_the_security_headers(server, console_archive, values):
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        answers = [anonymous.get("/login"), anonymous.get("/search")]  # 200, 303 to /login
    with signed_in(server, USER_OF["auditor"]) as client:
        answers += [
            client.get("/static/console.css"),
            client.get("/search?q=review"),
            client.get("/holds"),  # 403
            client.get("/no-such-page"),  # 404
            client.get(f"/attachment/{values['content_id']}/{values['attachment_id']}"),
            client.post("/exports", data={}),  # CSRF refused
        ]
    assert [a.status_code for a in answers] == [200, 303, 200, 200, 403, 404, 200, 403]
    for answer in answers:
        for name, value in SECURITY_HEADERS:
            assert answer.headers.get(name) == value, (answer.url, name)
        assert "server" not in answer.headers
    # No page has a script or an inline style (the policy would refuse them anyway).
    for answer in answers:
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert "<script" not in answer.text and "style=" not in answer.text
            assert "<style" not in answer.text
