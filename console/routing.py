"""How a request reaches a page: who it is (session cookie, or the trusted proxy's header),
whether the role may open the page, the CSRF token of a POST, then the page itself in a worker
thread, and the one place errors become pages.

Why one wrapper for every route: the checks are the security model (docs/console.md), so no
route can skip one. A refused request is answered with a page that holds no archive data: 303
to /login without a session, 403 for another role's page or a wrong CSRF token, 503 when the
access trail cannot be written. Errors of the library (a bad id, an empty search, a matter with
no active hold) are their one line on a 400 or 404 page; anything else is a 500 page that says
nothing of the cause (the server log has it, secrets redacted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console.audit import logged, recorded
from console.proxy import Origin
from console.sessions import Session, tokens_equal
from console.state import Console
from console.templates import layout, message_page
from console.users import ROLES, UserError
from pipelines.governance.access_trail import AccessTrailError
from pipelines.ringcentral.redaction import redact

log = logging.getLogger("console")

SESSION_COOKIE = "rc_console_session"
MAX_FORM_BYTES = 1 << 20
ROLE_HOME = {"reviewer": "/review", "auditor": "/search", "admin": "/holds"}

T = TypeVar("T")


class PageError(Exception):
    """A request the page refuses, with the status and the one line to show."""

    def __init__(self, status: int, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title or {400: "Bad request", 403: "Forbidden", 404: "Not found"}.get(
            status, "Refused"
        )


@dataclass
class PageRequest:
    """One request as a page sees it."""

    console: Console
    request: Request
    origin: Origin
    session: Session | None
    params: Mapping[str, str]
    form: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> str:
        assert self.session is not None
        return self.session.user

    @property
    def role(self) -> str:
        assert self.session is not None
        return self.session.role

    def arg(self, name: str) -> str:
        """A query-string value, stripped ("" when absent)."""
        return (self.request.query_params.get(name) or "").strip()

    def field(self, name: str) -> str:
        """A form value, stripped ("" when absent)."""
        return (self.form.get(name) or "").strip()

    def log(
        self,
        command: str,
        arguments: Mapping[str, Any],
        work: Callable[[], tuple[T, Mapping[str, Any]]],
        query_name: str | None = None,
    ) -> T:
        """`work` as one access event of this request's user (console.audit.logged)."""
        return logged(
            self.console,
            self.user,
            command,
            arguments,
            work,
            route=self.request.url.path,
            client=self.origin.client,
            query_name=query_name,
        )

    def act(self, command: str, arguments: Mapping[str, Any], action: Callable[[], T]) -> T:
        """`action` after its access event is stored (console.audit.recorded)."""
        return recorded(
            self.console,
            self.user,
            command,
            arguments,
            action,
            route=self.request.url.path,
            client=self.origin.client,
        )

    def page(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        session = self.session
        return HTMLResponse(
            layout(
                title,
                body,
                user=session.user if session else None,
                role=session.role if session else None,
                csrf=session.csrf if session else None,
            ),
            status_code=status,
        )


Handler = Callable[[PageRequest], Response]


@dataclass(frozen=True)
class Page:
    """A route: `roles` that may open it (None: anyone, signed in or not)."""

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    roles: frozenset[str] | None = frozenset(ROLES)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _signed_in(console: Console, request: Request, origin: Origin) -> tuple[Session | None, bool]:
    """(the session, whether it is new and needs its cookie set). The trusted proxy's header
    wins over a cookie; a user missing from the users file, disabled, or whose role changed
    has no session (and loses the old one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if origin.header_user is not None:
        user = console.users.get(origin.header_user)
        if user is None or not user.enabled or user.role not in ROLES:
            log.warning("console: the proxy named %r, who is no enabled user", origin.header_user)
            return None, False
        session = console.sessions.get(token)
        if session is not None and session.user == user.name and session.role == user.role:
            return session, False
        console.sessions.end(token)
        return console.sessions.create(user.name, user.role, via="header"), True
    session = console.sessions.get(token)
    if session is None:
        return None, False
    user = console.users.get(session.user)
    if user is None or not user.enabled or user.role != session.role:
        console.sessions.end_user(session.user)
        return None, False
    return session, False


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (first value of each name); PageError beyond
    MAX_FORM_BYTES. A body of another type is no form: an empty one (so it fails the CSRF
    check like a form without its token)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise PageError(400, "the form is too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(400, "the form is too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "the form is not valid UTF-8 form data") from None
    return {name: values[0] for name, values in parsed.items()}


def _refusal(page: PageRequest, status: int, title: str, text: str, element: str) -> Response:
    return page.page(title, message_page(title, text, element), status)


def endpoint(console: Console, route: Page) -> Callable[[Request], Any]:
    """The Starlette endpoint of `route`: the checks above, then its handler."""

    async def handle(request: Request) -> Response:
        origin = console.proxy.origin(request)
        try:
            session, new = await run_in_threadpool(_signed_in, console, request, origin)
        except UserError as error:
            log.error("console: %s", error)
            return HTMLResponse(
                layout("Unavailable", message_page("", "The users file cannot be read.")),
                status_code=503,
            )
        page = PageRequest(console, request, origin, session, dict(request.path_params))
        response = await _checked(console, route, page)
        if new and session is not None:
            set_session_cookie(response, session, origin)
        return response

    return handle


async def _checked(console: Console, route: Page, page: PageRequest) -> Response:
    request = page.request
    session = page.session
    if route.roles is not None:
        if session is None:
            return redirect("/login")
        if session.role not in route.roles:
            log.warning(
                "console: %s (%s) refused %s %s",
                session.user,
                session.role,
                request.method,
                request.url.path,
            )
            return _refusal(
                page, 403, "Forbidden", f"The {session.role} role cannot open this page.", "refused"
            )
    try:
        if request.method == "POST":
            page.form = await _form(request)
            # A public form (the login) checks its own token (login_pages.LoginTokens).
            signed = route.roles is not None and session is not None
            if signed and not tokens_equal(page.form.get("csrf"), session.csrf):
                log.warning("console: CSRF token refused on %s", request.url.path)
                return _refusal(
                    page,
                    403,
                    "Forbidden",
                    "The form's security token is missing or out of date: reload the page "
                    "and try again.",
                    "csrf-error",
                )
        return await run_in_threadpool(route.handler, page)
    except AccessTrailError as error:
        log.error("console: request refused, access trail not writable: %s", redact(str(error)))
        return _refusal(
            page,
            503,
            "Unavailable",
            "The access trail cannot be written, so nothing is shown: every read of the archive "
            "leaves its record first. Ask the archive's administrator.",
            "trail-error",
        )
    except PageError as error:
        return _refusal(page, error.status, error.title, error.message, "page-error")
    except (KeyError, IndexError):
        return _failed(page)
    except LookupError as error:
        return _refusal(page, 404, "Not found", _one_line(error), "page-error")
    except ValueError as error:
        return _refusal(page, 400, "Bad request", _one_line(error), "page-error")
    except Exception:
        return _failed(page)


def _failed(page: PageRequest) -> Response:
    """A 500 page that says nothing of the cause; the server's log has it."""
    request = page.request
    log.error("console: %s %s failed", request.method, request.url.path, exc_info=True)
    return _refusal(
        page, 500, "Error", "The request failed; the server's log has the cause.", "page-error"
    )


def _one_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return redact(text.strip("'\""))[:500]


def set_session_cookie(response: Response, session: Session, origin: Origin) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=origin.https,
        path="/",
    )
