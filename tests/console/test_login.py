"""Signing in to the console over real HTTP: the login form, wrong and throttled attempts,
session expiry (idle and absolute), signing out, a disabled user, and the CSRF token every
POST must carry. One console on 127.0.0.1 per test, over the session's archive."""

from __future__ import annotations

from pathlib import Path

import httpx

from console.users import UsersFile
from tests.console.support import (
    PASSWORD,
    access_events,
    console_settings,
    csrf_of,
    login,
    page_csrf,
    running_console,
    signed_in,
    write_users,
)


def _client(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=60)


def test_the_right_password_signs_in_and_lands_on_the_roles_home(server):
    with _client(server) as client:
        form = client.get("/login")
        assert form.status_code == 200
        assert 'id="login-form"' in form.text and 'id="login-submit"' in form.text
        answer = login(client, "adam")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = next(
            h for h in answer.headers.get_list("set-cookie") if h.startswith("rc_console_session=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags  # served over plain http on 127.0.0.1
        assert client.get("/").headers["location"] == "/search"
        assert client.get("/search").status_code == 200
    for name, home in (("rita", "/review"), ("ada", "/holds")):
        with signed_in(server, name) as client:
            assert client.get("/").headers["location"] == home


def test_a_wrong_password_or_name_is_refused_alike(server):
    with _client(server) as client:
        wrong = login(client, "adam", "not the password at all")
        unknown = login(client, "nobody", PASSWORD)
        for answer in (wrong, unknown):
            assert answer.status_code == 401
            assert 'id="login-error"' in answer.text
            assert "Wrong user name or password." in answer.text
            assert "rc_console_session=" not in answer.headers.get("set-cookie", "")
        assert client.get("/search").status_code == 303  # still signed out


def test_the_login_form_needs_its_own_token(server):
    with _client(server) as client:
        answer = client.post("/login", data={"username": "adam", "password": PASSWORD})
        assert answer.status_code == 403 and 'id="login-error"' in answer.text
        client.get("/login")
        forged = client.post(
            "/login", data={"username": "adam", "password": PASSWORD, "csrf": "x.y"}
        )
        assert forged.status_code == 403


def test_failed_logins_are_throttled_per_user_then_even_the_right_password_waits(server):
    with _client(server) as client:
        for _ in range(5):
            assert login(client, "adam", "guess-guess-guess").status_code == 401
        throttled = login(client, "adam", PASSWORD)
        assert throttled.status_code == 429 and 'id="login-error"' in throttled.text
        # Another user from the same address is not locked out by adam's failures.
        assert login(client, "ada").status_code == 303


def test_failed_logins_are_throttled_per_address_across_names(server):
    with _client(server) as client:
        for number in range(20):
            assert login(client, f"guess{number}", "guess-guess-guess").status_code == 401
        assert login(client, "adam", PASSWORD).status_code == 429


def test_sessions_expire_when_idle_and_after_their_longest_life(console_archive, tmp_path):
    now = [1_000_000.0]
    settings = console_settings(
        console_archive, tmp_path, session_idle_minutes=30, session_max_hours=2
    )
    with running_console(settings, console_archive["users_file"], clock=lambda: now[0]) as server:
        with signed_in(server, "adam") as client:
            now[0] += 29 * 60
            assert client.get("/exports").status_code == 200  # active: the idle clock restarts
            now[0] += 29 * 60
            assert client.get("/exports").status_code == 200
            now[0] += 31 * 60
            expired = client.get("/exports")
            assert expired.status_code == 303 and expired.headers["location"] == "/login"
        with signed_in(server, "adam") as client:
            for _ in range(5):  # active every 25 minutes, past the 2 hours
                now[0] += 25 * 60
                last = client.get("/exports")
            assert last.status_code == 303 and last.headers["location"] == "/login"


def test_signing_out_ends_the_session_on_the_server(server):
    with signed_in(server, "adam") as client:
        token = client.cookies["rc_console_session"]
        answer = client.post("/logout", data={"csrf": page_csrf(client, "/exports")})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    with _client(server) as replay:
        replay.cookies.set("rc_console_session", token)
        assert replay.get("/exports").status_code == 303


def test_a_disabled_user_loses_their_session_at_the_next_request(console_archive, tmp_path):
    users = write_users(tmp_path / "users.json", {"carol": "auditor"})
    settings = console_settings(console_archive, tmp_path)
    with running_console(settings, users) as server, signed_in(server, "carol") as client:
        assert client.get("/exports").status_code == 200
        UsersFile(users).disable("carol")
        assert client.get("/exports").status_code == 303
        assert login(client, "carol").status_code == 401


def test_every_post_needs_the_sessions_csrf_token(server, console_archive):
    root: Path = console_archive["root"]
    holds_before = sorted((root / "_holds").rglob("*.json")) if (root / "_holds").exists() else []
    events_before = len(access_events(root))
    form = {
        "matter": "csrf-probe",
        "by": "thread",
        "value": console_archive["thread_id"],
        "reason": "must not be placed",
    }
    with signed_in(server, "ada") as client:
        for extra in ({}, {"csrf": "wrong-token"}):
            answer = client.post("/holds", data={**form, **extra})
            assert answer.status_code == 403 and 'id="csrf-error"' in answer.text
        # Another session's token is no better.
        with signed_in(server, "ada") as other:
            stolen = page_csrf(other, "/users")
        answer = client.post("/holds", data={**form, "csrf": stolen})
        assert answer.status_code == 403
        assert client.post("/logout", data={}).status_code == 403
    holds_after = sorted((root / "_holds").rglob("*.json")) if (root / "_holds").exists() else []
    assert holds_after == holds_before
    # Refused before anything was read: the only new event is the other session's page view.
    new = access_events(root)[events_before:]
    assert [(e["command"], e["arguments"]) for e in new] == [("users", {"view": "list"})]


def test_the_login_page_token_is_not_a_session_token(server):
    with _client(server) as client:
        token = csrf_of(client.get("/login").text)
        login(client, "ada")
        answer = client.post("/logout", data={"csrf": token})
        assert answer.status_code == 403
