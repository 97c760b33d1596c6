"""Fault injection: the archive refuses writes to its access trail (as a bucket policy denying
PutObject under `_access/` would). Every read is refused with 503 and shows nothing of the
archive, no byte of an attachment or a production leaves, and no action is done: the console
never reads or acts without leaving its trace."""

from __future__ import annotations

from pipelines.archive.store import LocalStore
from pipelines.governance.holds import list_holds
from pipelines.governance.review import review_log
from tests.console.support import (
    EDITED_BODY,
    RefusingTrailStore,
    access_events,
    console_settings,
    csrf_of,
    running_console,
    signed_in,
)


def _refused(answer, *absent: str) -> None:
    assert answer.status_code == 503, answer.text[-400:]
    assert 'id="trail-error"' in answer.text
    for text in absent:
        assert text not in answer.text


def test_an_unwritable_trail_refuses_every_read_and_action(console_archive, tmp_path):
    root = console_archive["root"]
    source, thread = console_archive["source_id"], console_archive["thread_id"]
    attachment = console_archive["attachment"]
    flag = console_archive["flags"][0][0]
    events = len(access_events(root))
    decisions = len(list(review_log(LocalStore(root)).records()))
    holds = list_holds(LocalStore(root))
    settings = console_settings(console_archive, tmp_path)
    store = RefusingTrailStore(root)
    with running_console(settings, console_archive["users_file"], store=store) as server:
        with signed_in(server, "adam") as adam:
            _refused(adam.get("/search", params={"q": "review"}), EDITED_BODY, thread)
            _refused(adam.get(f"/thread/{source}/{thread}"), EDITED_BODY, 'class="version"')
            download = adam.get(f"/attachment/{attachment['content_id']}/{attachment['id']}")
            _refused(download)
            assert download.headers["content-type"].startswith("text/html")
            _refused(adam.get("/report"), "review-word")
            csrf = csrf_of(adam.get("/login", follow_redirects=True).text)
            made = adam.post("/exports", data={"format": "rsmf", "thread": thread, "csrf": csrf})
            _refused(made)
        with signed_in(server, "rita") as rita:
            _refused(rita.get("/review"), flag)
            _refused(rita.get(f"/review/{flag}"), EDITED_BODY)
            decided = rita.post(
                f"/review/{flag}/decide",
                data={
                    "decision": "cleared",
                    "reason": "must not be stored",
                    "csrf": csrf_of(rita.get("/login", follow_redirects=True).text),
                },
            )
            _refused(decided)
        with signed_in(server, "ada") as ada:
            _refused(ada.get("/access"))
            csrf = csrf_of(ada.get("/login", follow_redirects=True).text)
            placed = ada.post(
                "/holds",
                data={
                    "matter": "never",
                    "by": "thread",
                    "value": thread,
                    "reason": "r",
                    "csrf": csrf,
                },
            )
            _refused(placed)
    assert len(access_events(root)) == events
    assert len(list(review_log(LocalStore(root)).records())) == decisions
    assert list_holds(LocalStore(root)) == holds
    assert not list((tmp_path / "exports").glob("*/production"))
