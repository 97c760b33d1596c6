"""The administrator's legal holds: the matters and their status, placing a hold on a thread,
a person (an identity and its conversations) or the messages a query selects, and releasing a
matter.

A placement or release is `rc-archive hold place` / `hold release`'s record (write-once in
`_holds/`, journaled, the console user as its author, the legal hold set on S3). Each page view
and action is one access event; a placement by query is the query's own access event, as on the
command line (pipelines/query/hold_query.py), so it too leaves exactly one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from console.routing import Page, PageError, PageRequest, redirect
from console.templates import csrf_input, e, timestamp
from pipelines.governance.holds import (
    HoldRegister,
    Selector,
    check_matter,
    list_holds,
    place_hold,
    release_hold,
)
from pipelines.query.hold_query import message_ids_selected_by
from pipelines.query.selection import held_objects, identity_threads

ADMIN = frozenset({"admin"})
HOLD_BY = ("thread", "person", "query")


def holds_page(page: PageRequest) -> Response:
    store = page.console.store

    def work() -> tuple[list[tuple], dict[str, Any]]:
        register = HoldRegister(store)
        rows = list_holds(store, register)
        return rows, {"rows": len(rows), "hold_tampering": len(register.tampering)}

    rows = page.log("hold", {"view": "list"}, work, "hold list")
    csrf = csrf_input(page.session.csrf if page.session else "")
    body_rows = []
    for matter, status, since, by, objects, reason in rows:
        release = ""
        if status == "active":
            action = f"/holds/{quote(matter, safe='')}/release"
            release = (
                f'<form class="release-form inline" method="post" action="{e(action)}">{csrf}'
                f'<label>Reason <textarea name="reason" required></textarea></label>'
                '<button class="release-submit" type="submit">Release</button></form>'
            )
        cells = [matter, status, timestamp(since), by, objects, reason]
        body_rows.append(
            f'<tr class="hold" data-matter="{e(matter)}" data-status="{e(status)}">'
            + "".join(f"<td>{e(c)}</td>" for c in cells)
            + f"<td>{release}</td></tr>"
        )
    head = "".join(
        f"<th>{c}</th>" for c in ("matter", "status", "since", "by", "objects", "reason", "")
    )
    listing = (
        f'<table id="holds"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )
    if not rows:
        listing += '<p class="empty">No matter has been held.</p>'
    options = "".join(f'<option value="{b}">{b}</option>' for b in HOLD_BY)
    form = (
        '<h2>Place a hold</h2><form id="hold-form" class="stack" method="post" action="/holds">'
        f"{csrf}"
        '<label for="matter">Matter</label><input id="matter" type="text" name="matter" required>'
        f'<label for="by">Hold by</label><select id="by" name="by">{options}</select>'
        '<label for="value">Thread id, identity id, or a read-only SQL query returning '
        "message ids (column <code>id</code>)</label>"
        '<textarea id="value" name="value" required></textarea>'
        '<label for="hold-reason">Reason</label>'
        '<textarea id="hold-reason" name="reason" required></textarea>'
        '<p><button id="hold-submit" type="submit">Place hold</button></p></form>'
    )
    return page.page("Legal holds", listing + form)


def place(page: PageRequest) -> Response:
    console = page.console
    matter, by, value, reason = (page.field(n) for n in ("matter", "by", "value", "reason"))
    check_matter(matter)
    if by not in HOLD_BY:
        raise PageError(400, f"hold by {by[:20]!r}: expected thread, person or query")
    if not value:
        raise PageError(400, f"give the {by} to hold")
    if not reason:
        raise PageError(400, "give the reason for the hold")
    settings = console.settings_for(page.user)
    audit_db = console.audit_db

    def hold(selector: Selector) -> None:
        with console.exclusive():
            held = held_objects(audit_db, console.settings, selector)
        place_hold(console.store, settings, matter, selector, reason, held)

    if by == "query":
        # The query's own access event (stored before the hold is placed) is this action's one
        # event, as for `rc-archive hold place --query`.
        trail = console.trail_for(page.user)
        with console.exclusive():
            ids = message_ids_selected_by(trail, audit_db, console.settings, value)
        hold(Selector(content_ids=ids, query=value))
        return redirect("/holds")

    def action() -> None:
        if by == "thread":
            hold(Selector(thread=value))
        else:
            with console.exclusive():
                threads = identity_threads(audit_db, console.settings, value)
            hold(Selector(identity=value, threads=threads))

    page.act("hold", {"action": "place", "matter": matter, "by": by, "value": value}, action)
    return redirect("/holds")


def release(page: PageRequest) -> Response:
    console = page.console
    matter = check_matter(page.params["matter"])
    reason = page.field("reason")
    if not reason:
        raise PageError(400, "give the reason for the release")
    page.act(
        "hold",
        {"action": "release", "matter": matter},
        lambda: release_hold(console.store, console.settings_for(page.user), matter, reason),
    )
    return redirect("/holds")


PAGES = (
    Page("/holds", holds_page, roles=ADMIN),
    Page("/holds", place, methods=("POST",), roles=ADMIN),
    Page("/holds/{matter}/release", release, methods=("POST",), roles=ADMIN),
)
