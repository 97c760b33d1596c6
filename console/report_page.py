"""The supervision report (`rc-archive review report`'s page, pipelines/query/supervision_report.py)
inside the console: what was flagged, decided and is waiting, and the matters on hold.

The report is rendered from the catalog as of now and shown, not stored: storing today's copy
write-once in the archive stays the command's job. Its own stylesheet is left out (the console
allows no inline style); its charts are inline SVG without script.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from console.routing import Page, PageRequest
from pipelines.query.supervision_report import render_report


def _body(document: str) -> str:
    """The content of the report's <body> (the library's page is a whole document)."""
    inside = document.partition("<body>")[2].partition("</body>")[0]
    # The report's own heading: the console's page has its title already.
    return inside.replace("<h1>Supervision report</h1>", "", 1)


def report_page(page: PageRequest) -> Response:
    console = page.console

    def work() -> tuple[str, dict[str, Any]]:
        with console.exclusive():
            document = render_report(console.audit_db, console.settings, datetime.now(UTC))
        return _body(document), {"rows": None}

    report = page.log("report", {"view": "supervision"}, work)
    return page.page("Supervision report", f'<section id="report">{report}</section>')


PAGES = (Page("/report", report_page, roles=frozenset({"auditor"})),)
