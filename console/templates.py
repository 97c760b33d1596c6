"""The HTML of the console's pages: one layout, and small helpers every page builds from.

Why Python strings with `html.escape` and no template engine: the pages are few and simple,
and every value shown (message bodies, names, titles, ids: text customers and agents wrote) is
escaped by the one helper `e`, so no page can forget it. No page has a script or an inline
style (the Content-Security-Policy allows neither): the look is /static/console.css.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

# The pages each role reaches from the navigation bar (label, path).
NAVIGATION = {
    "reviewer": (("Review queue", "/review"),),
    "auditor": (("Search", "/search"), ("Exports", "/exports"), ("Report", "/report")),
    "admin": (("Holds", "/holds"), ("Users", "/users"), ("Access log", "/access")),
}


def e(value: Any) -> str:
    """`value` as HTML text (None as nothing), quotes escaped too (safe in attributes)."""
    return "" if value is None else html.escape(str(value), quote=True)


def csrf_input(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def layout(
    title: str,
    body: str,
    *,
    user: str | None = None,
    role: str | None = None,
    csrf: str | None = None,
) -> str:
    """A whole page: the navigation of `role`, the signed-in user and the sign-out form (when
    signed in), then `body` (already HTML)."""
    header = '<header><span class="brand">rc-archive console</span>'
    if user and role and csrf:
        links = "".join(
            f'<a href="{e(path)}">{e(label)}</a>' for label, path in NAVIGATION.get(role, ())
        )
        header += (
            f'<nav aria-label="main">{links}</nav>'
            f'<span class="who">{e(user)} ({e(role)})</span>'
            '<form id="logout-form" method="post" action="/logout">'
            f'{csrf_input(csrf)}<button id="logout" type="submit">Sign out</button></form>'
        )
    header += "</header>"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} - rc-archive console</title>"
        '<link rel="stylesheet" href="/static/console.css"></head>'
        f"<body>{header}<main><h1>{e(title)}</h1>{body}</main></body></html>\n"
    )


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    table_id: str | None = None,
    empty: str = "None.",
) -> str:
    """A plain table of escaped cells (a message `empty` when there is no row)."""
    body = "".join(
        "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    ident = f' id="{e(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def message_page(title: str, text: str, element_id: str = "message") -> str:
    """The body of an error or notice page: one paragraph, no data."""
    return f'<p id="{e(element_id)}" class="notice">{e(text)}</p>'


def timestamp(value: Any) -> str:
    """A time as the pages show it: ISO-8601 to the second, UTC."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.replace("+00:00", "Z")
