"""The administrator's overview pages: the console's users and the archive's access trail.

The access log is read from the trail itself (the newest events, day folders newest first), not
from the catalog's `access_log` view, so it shows what happened minutes ago, console reads
included. Both views are access events of their own.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from console.routing import Page, PageRequest
from console.templates import e, table, timestamp
from pipelines.governance.access_trail import access_log

ADMIN = frozenset({"admin"})
SHOWN_EVENTS = 100


def users_page(page: PageRequest) -> Response:
    def work() -> tuple[list[Any], dict[str, Any]]:
        users = page.console.users.users()
        return users, {"rows": len(users)}

    users = page.log("users", {"view": "list"}, work)
    rows = [
        [u.name, u.role, "enabled" if u.enabled else "disabled", u.created_at, u.disabled_at]
        for u in users
    ]
    note = (
        "<p>Users are added and disabled on the server: <code>rc-archive users add NAME --role "
        "ROLE</code>, <code>rc-archive users disable NAME</code>.</p>"
    )
    return page.page(
        "Users",
        table(["user", "role", "status", "created", "disabled"], rows, table_id="users") + note,
    )


def _newest_events(page: PageRequest, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """The newest `limit` events of the trail, newest first: (key, body)."""
    store = page.console.store
    trail = access_log(store)
    found: list[tuple[str, dict[str, Any]]] = []
    for day in reversed(trail.days()):
        for key in reversed(trail.day_keys(day)):
            try:
                body = json.loads(store.get(key))
            except ValueError:
                body = {"error": "not JSON"}
            found.append((key, body if isinstance(body, dict) else {}))
            if len(found) >= limit:
                return found
    return found


def _arguments(body: dict[str, Any]) -> str:
    arguments = body.get("arguments")
    if isinstance(arguments, dict):
        return ", ".join(f"{k}={v}" for k, v in arguments.items() if v not in (None, ""))
    return ""


def access_page(page: PageRequest) -> Response:
    def work() -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
        events = _newest_events(page, SHOWN_EVENTS)
        return events, {"rows": len(events)}

    events = page.log("access", {"view": "log"}, work)
    head = "".join(
        f"<th>{c}</th>" for c in ("at", "user", "command", "status", "arguments", "rows", "event")
    )
    rows = "".join(
        f'<tr class="access-event" data-user="{e(body.get("user"))}" '
        f'data-command="{e(body.get("command"))}">'
        + "".join(
            f"<td>{e(cell)}</td>"
            for cell in (
                timestamp(body.get("at")),
                body.get("user"),
                body.get("command"),
                body.get("status"),
                _arguments(body),
                body.get("rows"),
                key,
            )
        )
        + "</tr>"
        for key, body in events
    )
    note = f"<p>The newest {SHOWN_EVENTS} events of the access trail, newest first.</p>"
    return page.page(
        "Access log",
        note
        + f'<table id="access-log"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>',
    )


PAGES = (
    Page("/users", users_page, roles=ADMIN),
    Page("/access", access_page, roles=ADMIN),
)
