"""Signing in and out, the home redirect, and the stylesheet.

The login form carries its own CSRF token (`LoginTokens`: a signed value in a cookie and in the
form), a correct password starts a new session (a new token: a session fixed before login is
never kept), and failures are throttled per name and per address (`LoginThrottle`). A wrong
name and a wrong password get the same answer, in the same time.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from console.routing import (
    ROLE_HOME,
    SESSION_COOKIE,
    Page,
    PageRequest,
    redirect,
    set_session_cookie,
)
from console.style import CSS
from console.templates import csrf_input, e

log = logging.getLogger("console")

LOGIN_COOKIE = "rc_console_login"


def _login_form(page: PageRequest, token: str, error: str | None = None) -> str:
    message = f'<p id="login-error" class="notice error">{e(error)}</p>' if error else ""
    name = page.field("username")
    return (
        f"{message}"
        '<form id="login-form" class="stack" method="post" action="/login">'
        f"{csrf_input(token)}"
        '<label for="username">User name</label>'
        f'<input id="username" type="text" name="username" value="{e(name)}" '
        'autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input id="password" type="password" name="password" '
        'autocomplete="current-password" required>'
        '<p><button id="login-submit" type="submit">Sign in</button></p></form>'
    )


def _login_page(page: PageRequest, status: int = 200, error: str | None = None) -> Response:
    token = page.console.login_tokens.issue()
    page.session = None  # the login page shows no navigation, even to a signed-in person
    response = page.page("Sign in", _login_form(page, token, error), status)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=page.origin.https, path="/"
    )
    return response


def login_form(page: PageRequest) -> Response:
    if page.session is not None:
        return redirect("/")
    return _login_page(page)


def login(page: PageRequest) -> Response:
    console = page.console
    if not console.login_tokens.valid(
        page.form.get("csrf"), page.request.cookies.get(LOGIN_COOKIE)
    ):
        return _login_page(page, 403, "The form expired: sign in again.")
    name = page.field("username")
    password = page.form.get("password") or ""
    client = page.origin.client
    if console.throttle.blocked(name, client):
        log.warning("console: login throttled for %r from %s", name, client)
        return _login_page(
            page, 429, "Too many failed sign-ins: wait 15 minutes before trying again."
        )
    user = console.users.authenticate(name, password)
    if user is None:
        console.throttle.failed(name, client)
        log.warning("console: failed sign-in for %r from %s", name, client)
        return _login_page(page, 401, "Wrong user name or password.")
    console.throttle.succeeded(name)
    console.sessions.end(page.request.cookies.get(SESSION_COOKIE))
    session = console.sessions.create(user.name, user.role)
    log.info("console: %s (%s) signed in from %s", user.name, user.role, client)
    response = redirect("/")
    set_session_cookie(response, session, page.origin)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def logout(page: PageRequest) -> Response:
    page.console.sessions.end(page.request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def home(page: PageRequest) -> Response:
    return redirect(ROLE_HOME.get(page.role, "/login"))


def stylesheet(page: PageRequest) -> Response:
    return Response(CSS, media_type="text/css")


PAGES = (
    Page("/login", login_form, roles=None),
    Page("/login", login, methods=("POST",), roles=None),
    Page("/logout", logout, methods=("POST",)),
    Page("/", home),
    Page("/static/console.css", stylesheet, roles=None),
)
