"""The console's ASGI application (Starlette, served by uvicorn like the webhook receiver),
and a background server for tests and benchmarks.

`create_app` opens what every request shares (console.state.Console): the archive the audit
catalog reads (the storage credentials stay in this process; a browser never sees them), the
users file, and the in-memory sessions, throttle and claims. Every route goes through
`console.routing` (sign-in, role, CSRF, access event, errors) and every response through
`console.security.SecurityHeaders`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from console import (
    admin_pages,
    export_pages,
    hold_pages,
    login_pages,
    report_page,
    review_pages,
    search_pages,
)
from console.claims import Claims
from console.proxy import ProxyPolicy
from console.routing import Page, endpoint
from console.security import SecurityHeaders
from console.sessions import LoginThrottle, LoginTokens, SessionStore
from console.state import Console
from console.templates import layout, message_page
from console.users import UsersFile
from pipelines.archive.store import ObjectStore
from pipelines.query.access_logged import catalog_archive
from pipelines.server_thread import ServerThread
from pipelines.settings import Settings

PAGE_GROUPS = (
    login_pages,
    search_pages,
    review_pages,
    hold_pages,
    export_pages,
    report_page,
    admin_pages,
)


def pages() -> list[Page]:
    """Every route of the console (tests walk this list for the role matrix)."""
    return [page for group in PAGE_GROUPS for page in group.PAGES]


def build_console(
    settings: Settings,
    users_file: str | Path,
    *,
    store: ObjectStore | None = None,
    clock: Callable[[], float] = time.time,
) -> Console:
    """What the console's requests share. `store`: the archive to read and to write the
    access trail, reviews and holds to (default: the archive the catalog at AUDIT_DB reads,
    as `rc-archive sql` resolves it); `clock` (seconds) drives session expiry, throttling and
    claims."""
    console = settings.console
    return Console(
        settings=settings,
        users=UsersFile(users_file),
        store=store if store is not None else catalog_archive(settings.audit_db, settings),
        sessions=SessionStore(
            idle_seconds=console.session_idle_minutes * 60,
            max_seconds=console.session_max_hours * 3600,
            clock=clock,
        ),
        throttle=LoginThrottle(clock=clock),
        login_tokens=LoginTokens(),
        proxy=ProxyPolicy(console),
        claims=Claims(clock=clock),
        exports_dir=Path(settings.console_exports_dir),
        clock=clock,
    )


async def _not_found(request, exc) -> HTMLResponse:
    return HTMLResponse(
        layout("Not found", message_page("Not found", "No such page.", "page-error")),
        status_code=404,
    )


def create_app(
    settings: Settings,
    users_file: str | Path,
    *,
    store: ObjectStore | None = None,
    clock: Callable[[], float] = time.time,
) -> SecurityHeaders:
    """The console for the catalog at `settings.audit_db` and the users in `users_file`."""
    console = build_console(settings, users_file, store=store, clock=clock)
    routes = [
        Route(page.path, endpoint(console, page), methods=list(page.methods)) for page in pages()
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
    app.state.console = console
    return SecurityHeaders(app)


def uvicorn_config(app: SecurityHeaders, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # the console's own log names who did what; URLs hold ids only
        lifespan="off",
        proxy_headers=False,  # console.proxy decides which forwarded headers to believe
        server_header=False,
        timeout_keep_alive=30,
    )


def serve(app: SecurityHeaders, host: str, port: int) -> None:
    """Serve until interrupted (`rc-archive console`)."""
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run()
    finally:
        app.app.state.console.access.close()  # type: ignore[attr-defined]


class ConsoleServer(ServerThread):
    """The console in a background thread on a free port of 127.0.0.1 (tests, benchmarks)."""

    def __init__(self, app: SecurityHeaders, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(uvicorn_config(app, host, port), "console", daemon=True)
        self.app = app

    @property
    def console(self) -> Console:
        return self.app.app.state.console  # type: ignore[attr-defined]

    def stop(self) -> None:
        super().stop()
        self.console.access.close()
