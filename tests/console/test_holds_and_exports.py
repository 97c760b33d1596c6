"""An administrator's legal hold and an auditor's production over real HTTP: a hold placed on
a thread and released again (the library's hold records, the administrator as their author),
and an RSMF export downloaded as one zip whose files match the load file. Each action and each
page view is exactly one access event naming its user."""

from __future__ import annotations

import io
import json
import re
import zipfile

from pipelines.archive.store import LocalStore
from pipelines.governance.holds import list_holds
from tests.console.support import access_events, csrf_of, sha256, signed_in


def _hold_rows(root) -> dict[str, tuple]:
    return {row[0]: row for row in list_holds(LocalStore(root))}


def test_hold_placed_by_thread_then_released(server, console_archive):
    root = console_archive["root"]
    matter = "acme-v-console"
    with signed_in(server, "ada") as ada:
        page = ada.get("/holds")
        assert page.status_code == 200 and 'id="hold-form"' in page.text
        csrf = csrf_of(page.text)
        before = len(access_events(root))
        placed = ada.post(
            "/holds",
            data={
                "matter": matter,
                "by": "thread",
                "value": console_archive["thread_id"],
                "reason": "litigation hold, counsel 2026-11-02",
                "csrf": csrf,
            },
        )
        assert placed.status_code == 303 and placed.headers["location"] == "/holds"
        row = _hold_rows(root)[matter]
        assert row[1] == "active" and row[3] == "ada" and row[4] >= 1

        listed = ada.get("/holds").text
        assert re.search(rf'<tr class="hold" data-matter="{matter}" data-status="active"', listed)
        assert f'action="/holds/{matter}/release"' in listed

        released = ada.post(
            f"/holds/{matter}/release", data={"reason": "case closed", "csrf": csrf}
        )
        assert released.status_code == 303
        row = _hold_rows(root)[matter]
        assert row[1] == "released" and row[3] == "ada" and row[5] == "case closed"
        again = ada.post(f"/holds/{matter}/release", data={"reason": "twice", "csrf": csrf})
        assert again.status_code == 400 and "no active hold" in again.text
    events = access_events(root)[before:]
    seen = [(e["command"], e["arguments"].get("action"), e["status"], e["user"]) for e in events]
    assert seen == [
        ("hold", "place", "ok", "ada"),
        ("hold", None, "ok", "ada"),  # the list
        ("hold", "release", "ok", "ada"),
        ("hold", "release", "ok", "ada"),  # the refused second release: its event, then
        ("hold", "release", "failed", "ada"),  # the failure naming it
    ]
    assert events[4]["started_key"] == f"_access/{events[3]['day']}/{events[3]['seq']:010d}.json"


def test_a_hold_by_query_is_the_querys_one_event(server, console_archive):
    root = console_archive["root"]
    sql = f"SELECT id FROM messages WHERE id = '{console_archive['edited']}'"
    with signed_in(server, "ada") as ada:
        csrf = csrf_of(ada.get("/holds").text)
        before = len(access_events(root))
        placed = ada.post(
            "/holds",
            data={"matter": "by-query", "by": "query", "value": sql, "reason": "r", "csrf": csrf},
        )
        assert placed.status_code == 303
    events = access_events(root)[before:]
    assert [(e["command"], e["query"], e["user"]) for e in events] == [("hold", sql, "ada")]
    assert _hold_rows(root)["by-query"][1] == "active"


def test_rsmf_export_downloads_as_a_zip_matching_its_load_file(server, console_archive):
    root = console_archive["root"]
    with signed_in(server, "adam") as adam:
        form = adam.get("/exports")
        assert 'id="export-form"' in form.text and '<option value="rsmf">' in form.text
        before = len(access_events(root))
        thread, csrf = console_archive["thread_id"], csrf_of(form.text)
        made = adam.post("/exports", data={"format": "rsmf", "thread": thread, "csrf": csrf})
        assert made.status_code == 303
        location = made.headers["location"]
        assert re.fullmatch(r"/exports/\d{8}T\d{6}Z-[0-9a-f]{12}", location)
        page = adam.get(location)
        assert page.status_code == 200
        href = re.search(r'<a id="export-download" href="([^"]+)"', page.text).group(1)
        download = adam.get(href)
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(download.content))
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["export_format"] == "rsmf" and manifest["threads"] == 1
    assert manifest["filters"]["thread"] == console_archive["thread_id"]
    for entry in manifest["files"]:
        assert entry["path"].endswith(".rsmf")
        assert sha256(bundle.read(entry["path"])) == entry["sha256"]
    events = access_events(root)[before:]
    assert [(e["command"], e["status"], e["user"]) for e in events] == [
        ("export", "ok", "adam"),
        ("export", "ok", "adam"),
        ("export", "ok", "adam"),
    ]
    assert events[0]["export"]["format"] == "rsmf"
    assert events[0]["export"]["files"] == [
        {"path": f["path"], "sha256": f["sha256"], "bytes": f["bytes"]} for f in manifest["files"]
    ]
    assert events[2]["download"]["sha256"] == sha256(download.content)


def test_an_export_needs_a_selection_and_an_offered_format(server):
    with signed_in(server, "adam") as adam:
        csrf = csrf_of(adam.get("/exports").text)
        nothing = adam.post("/exports", data={"format": "rsmf", "csrf": csrf})
        assert nothing.status_code == 400
        other = adam.post("/exports", data={"format": "parquet", "thread": "t", "csrf": csrf})
        assert other.status_code == 400
        assert adam.get("/exports/../../etc").status_code in (400, 404)
        assert adam.get("/exports/20260101T000000Z-000000000000").status_code == 404
