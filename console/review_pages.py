"""The reviewer's pages: the queue of undecided flags, one flag with its message and its
decision history, and the claim, decide and escalate actions.

The queue is `rc-archive review next`'s (the catalog's `review_queue` less the decisions stored
since it was built), a decision is `rc-archive review decide`'s record (write-once in
`_reviews/`, the console user as its author), and each page view and action is one access
event. A claim (console.claims) tells other reviewers who is on a flag; deciding a flag another
reviewer holds is refused until they decide it or the claim lapses.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from console.routing import Page, PageError, PageRequest, redirect
from console.templates import csrf_input, e, table, timestamp
from pipelines.governance.review import DECISIONS, decision_record, record_decision, review_log
from pipelines.query.queries import run_query
from pipelines.query.review_queue import (
    REVIEW_NEXT,
    decided_since_catalog,
    flag_by_id,
    review_next_params,
)
from pipelines.query.terminal_text import terminal_safe, terminal_safe_lines
from pipelines.query.transcript import thread_transcript

QUEUE_LIMIT = 200
FLAG_PATTERN = re.compile(r"^[0-9a-f]{8,64}$")
FLAG_DETAIL = """
SELECT record_sha256, content_id, source_id, source_type, thread_id, creation_time, direction,
       author_name, agent_name, policy, kind, matched, excerpt
FROM flags WHERE record_sha256 = $flag
"""
FLAG_DECISIONS = """
SELECT decision_key, "at", "user", decision, note FROM review_decisions
WHERE flag_id = $flag ORDER BY decision_key
"""
NEWEST_DECISION = "SELECT max(decision_key) FROM review_decisions"
REVIEWER = frozenset({"reviewer"})


def _flag_id(page: PageRequest) -> str:
    flag = page.params["flag_id"].strip().lower()
    if not FLAG_PATTERN.match(flag):
        raise PageError(400, f"flag id {flag[:70]!r}: expected the flag's hex id")
    return flag


def queue_page(page: PageRequest) -> Response:
    console = page.console
    policy = page.arg("policy")

    def work() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        with console.exclusive():
            decided = decided_since_catalog(console.store, console.audit_db, console.settings)
            params = review_next_params(policy or None, QUEUE_LIMIT, decided)
            with console.catalog() as conn:
                rows = run_query(conn, REVIEW_NEXT, params).as_dicts()
        return rows, {"rows": len(rows)}

    rows = page.log("review", {"view": "queue", "policy": policy or None}, work, "review next")
    claims = console.claims.all()
    body_rows = []
    for row in rows:
        flag = row["flag_id"]
        claim = claims.get(flag)
        cells = [
            timestamp(row["creation_time"]),
            row["source_type"],
            row["direction"],
            terminal_safe(row["agent_name"] or ""),
            row["policy"],
            row["kind"],
            terminal_safe(row["matched"] or ""),
            terminal_safe(row["excerpt"] or ""),
            claim.user if claim else "",
        ]
        link = f'<a class="review-link" href="/review/{e(quote(flag))}">{e(flag[:12])}</a>'
        body_rows.append(
            f'<tr class="review-item" data-flag-id="{e(flag)}"><td>{link}</td>'
            + "".join(f"<td>{e(cell)}</td>" for cell in cells)
            + "</tr>"
        )
    head = "".join(
        f"<th>{e(c)}</th>"
        for c in (
            "flag",
            "created",
            "channel",
            "direction",
            "agent",
            "policy",
            "kind",
            "matched",
            "excerpt",
            "claimed by",
        )
    )
    queue = (
        f'<table id="review-queue"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )
    note = (
        f"<p>{len(rows)} undecided flag(s), newest first"
        f"{' (the first ' + str(QUEUE_LIMIT) + ')' if len(rows) == QUEUE_LIMIT else ''}.</p>"
    )
    if not rows:
        note = '<p class="empty">No flag is waiting for a decision.</p>'
    return page.page("Review queue", note + queue)


def _history(conn: Any, page: PageRequest, flag: str) -> list[dict[str, Any]]:
    """The flag's decisions: the catalog's, then those stored since it was built."""
    decisions = run_query(conn, FLAG_DECISIONS, {"flag": flag}).as_dicts()
    newest = conn.execute(NEWEST_DECISION).fetchone()[0]
    for record in review_log(page.console.store).records(newest):
        body = record.body
        if body.get("flag_id") == flag:
            decisions.append(
                {
                    "decision_key": record.key,
                    "at": body.get("at"),
                    "user": body.get("user"),
                    "decision": body.get("decision"),
                    "note": body.get("note"),
                }
            )
    return decisions


def item_page(page: PageRequest) -> Response:
    console = page.console
    wanted = _flag_id(page)

    def work() -> tuple[dict[str, Any], dict[str, Any]]:
        with console.exclusive():
            flag = flag_by_id(console.audit_db, wanted, console.settings)
        full = flag["record_sha256"]
        with console.catalog() as conn:
            detail = run_query(conn, FLAG_DETAIL, {"flag": full}).as_dicts()
            if not detail:
                raise LookupError(f"no flag {wanted} in the catalog")
            row = detail[0]
            message = None
            if row["thread_id"]:
                lines = thread_transcript(conn, row["thread_id"])
                message = next((li for li in lines if li.content_id == row["content_id"]), None)
            history = _history(conn, page, full)
        return {"flag": row, "message": message, "history": history}, {"rows": 1}

    found = page.log("review", {"view": "flag", "flag_id": wanted}, work)
    return page.page(f"Flag {wanted[:12]}", _item_html(page, found))


def _item_html(page: PageRequest, found: dict[str, Any]) -> str:
    row, message, history = found["flag"], found["message"], found["history"]
    flag = row["record_sha256"]
    facts = table(
        ["policy", "kind", "matched", "created", "channel", "direction", "author", "agent"],
        [
            [
                row["policy"],
                row["kind"],
                terminal_safe(row["matched"] or ""),
                timestamp(row["creation_time"]),
                row["source_type"],
                row["direction"],
                terminal_safe(row["author_name"] or ""),
                terminal_safe(row["agent_name"] or ""),
            ]
        ],
        table_id="flag",
    )
    if message is not None:
        body = e("\n".join(terminal_safe_lines(message.body))) if message.body else "(no body)"
        marks = []
        if message.edited:
            marks.append(f"edited, {message.versions_seen} versions")
        if message.deleted:
            marks.append("deleted on the channel")
        text = f'<div class="body">{body}</div>'
        if marks:
            text += f'<p class="meta">{e("; ".join(marks))}</p>'
    else:
        text = f'<div class="body">{e(terminal_safe(row["excerpt"] or ""))}</div>'
    thread_link = ""
    if row["thread_id"]:
        href = f"/thread/{quote(row['source_id'], safe='')}/{quote(row['thread_id'], safe='')}"
        thread_link = f'<p><a id="thread-link" href="{e(href)}">The whole thread</a></p>'
    claim = page.console.claims.holder(flag)
    rows = [[timestamp(h["at"]), h["user"], h["decision"], h["note"]] for h in history]
    history_html = (
        '<section id="history"><h2>Decisions</h2>'
        + table(["at", "by", "decision", "note"], rows, empty="No decision yet.")
        + (f'<p class="meta">Claimed by {e(claim.user)}.</p>' if claim else "")
        + "</section>"
    )
    csrf = csrf_input(page.session.csrf if page.session else "")
    base = f"/review/{quote(flag)}"
    options = "".join(f'<option value="{e(d)}">{e(d)}</option>' for d in DECISIONS)
    forms = (
        f'<form id="claim-form" class="inline" method="post" action="{e(base)}/claim">{csrf}'
        '<button id="claim-submit" type="submit">Claim</button></form>'
        f'<form id="decide-form" class="stack" method="post" action="{e(base)}/decide">{csrf}'
        f'<label for="decision">Decision</label><select id="decision" name="decision">{options}'
        '</select><label for="reason">Reason</label>'
        '<textarea id="reason" name="reason" required></textarea>'
        '<p><button id="decide-submit" type="submit">Record decision</button></p></form>'
        f'<form id="escalate-form" class="stack" method="post" action="{e(base)}/escalate">'
        f'{csrf}<label for="escalate-reason">Why escalate</label>'
        '<textarea id="escalate-reason" name="reason" required></textarea>'
        '<p><button id="escalate-submit" type="submit">Escalate</button></p></form>'
    )
    return (
        f'<section id="item" data-flag-id="{e(flag)}">{facts}<h2>Message</h2>{text}'
        f"{thread_link}</section>{history_html}<h2>Work this flag</h2>{forms}"
    )


def _flag_to_work(page: PageRequest) -> dict[str, Any]:
    """The flag of the URL (its catalog row's ids), refused when another reviewer holds it."""
    with page.console.exclusive():
        flag = flag_by_id(page.console.audit_db, _flag_id(page), page.console.settings)
    other = page.console.claims.held_by_other(flag["record_sha256"], page.user)
    if other is not None:
        raise PageError(409, f"{other.user} has claimed this flag.", "Claimed")
    return flag


def claim(page: PageRequest) -> Response:
    flag_id = _flag_to_work(page)["record_sha256"]
    page.act(
        "review",
        {"action": "claim", "flag_id": flag_id},
        lambda: page.console.claims.claim(flag_id, page.user),
    )
    return redirect(f"/review/{quote(flag_id)}")


def _decide(page: PageRequest, decision: str) -> Response:
    flag = _flag_to_work(page)
    flag_id = flag["record_sha256"]
    reason = page.field("reason")
    console = page.console
    decision_record(flag, decision, reason)  # a bad decision or no reason: 400, nothing stored

    def action() -> None:
        record_decision(console.store, flag, decision, reason, console.settings_for(page.user))
        console.claims.release(flag_id)

    page.act("review", {"action": "decide", "flag_id": flag_id, "decision": decision}, action)
    return redirect(f"/review/{quote(flag_id)}")


def decide(page: PageRequest) -> Response:
    decision = page.field("decision")
    if decision not in DECISIONS:
        raise PageError(400, f"decision {decision[:40]!r}: expected one of {', '.join(DECISIONS)}")
    return _decide(page, decision)


def escalate(page: PageRequest) -> Response:
    return _decide(page, "escalated")


PAGES = (
    Page("/review", queue_page, roles=REVIEWER),
    Page("/review/{flag_id}", item_page, roles=REVIEWER),
    Page("/review/{flag_id}/claim", claim, methods=("POST",), roles=REVIEWER),
    Page("/review/{flag_id}/decide", decide, methods=("POST",), roles=REVIEWER),
    Page("/review/{flag_id}/escalate", escalate, methods=("POST",), roles=REVIEWER),
)
