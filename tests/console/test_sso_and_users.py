"""Single sign-on through a trusted reverse proxy's header (off by default, honoured only from
the listed proxy addresses, only for enabled users of the users file), and the `rc-archive
users` commands that keep that file (scrypt hashes, mode 0600, never the password)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest

from cli.main import main
from pipelines.settings import ConsoleSettings, SettingError, Settings
from tests.console.support import (
    PASSWORD,
    access_events,
    console_settings,
    csrf_of,
    login,
    running_console,
)

HEADER = "X-Remote-User"


def _get(server, path: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        return client.get(path, headers=headers)


def test_the_proxys_header_signs_in_only_from_a_trusted_address(console_archive, tmp_path):
    trusted = console_settings(
        console_archive,
        tmp_path,
        trusted_user_header=HEADER.lower(),
        trusted_proxies=("127.0.0.1/32",),
    )
    root = console_archive["root"]
    with running_console(trusted, console_archive["users_file"]) as server:
        before = len(access_events(root))
        answer = _get(server, "/exports", **{HEADER: "adam", "X-Forwarded-For": "203.0.113.7"})
        assert answer.status_code == 200 and "adam (auditor)" in answer.text
        event = access_events(root)[before]
        assert event["user"] == "adam" and event["console"]["client"] == "203.0.113.7"
        # A name that is no enabled user is nobody; without the header, the login form.
        assert _get(server, "/exports", **{HEADER: "mallory"}).status_code == 303
        assert _get(server, "/exports").status_code == 303
        # The header decides who it is: the role is the user's, not the header's.
        assert _get(server, "/holds", **{HEADER: "adam"}).status_code == 403
        # Over https at the proxy, the cookies are Secure (this client talks plain http to
        # the console, so it hands the login cookie back itself, as a browser on https would).
        assert _secure_login_cookie(server) is True
    elsewhere = console_settings(
        console_archive,
        tmp_path,
        trusted_user_header=HEADER.lower(),
        trusted_proxies=("10.0.0.5",),
    )
    with running_console(elsewhere, console_archive["users_file"]) as server:
        # From an address not listed the header is ignored (anyone can send it).
        assert _get(server, "/exports", **{HEADER: "adam"}).status_code == 303
        assert _secure_login_cookie(server) is False
    with running_console(
        console_settings(console_archive, tmp_path), console_archive["users_file"]
    ) as server:
        assert _get(server, "/exports", **{HEADER: "adam"}).status_code == 303  # off by default


def _secure_login_cookie(server) -> bool:
    """Sign in with X-Forwarded-Proto: https; whether the session cookie came back Secure."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        https = {"X-Forwarded-Proto": "https"}
        form = client.get("/login", headers=https)
        token = form.cookies["rc_console_login"]
        signed = client.post(
            "/login",
            data={"username": "ada", "password": PASSWORD, "csrf": csrf_of(form.text)},
            headers={**https, "Cookie": f"rc_console_login={token}"},
        )
        assert signed.status_code == 303
        cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("rc_console_session=")
        )
        return "; secure" in cookie.lower()


def test_console_settings_are_parsed_once_with_one_line_errors():
    parsed = Settings.from_env(
        {
            "AUDIT_DB": "/srv/a/audit.duckdb",
            "CONSOLE_TRUSTED_USER_HEADER": "X-Remote-User",
            "CONSOLE_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16",
            "CONSOLE_SESSION_IDLE_MINUTES": "10",
        }
    )
    assert parsed.console == ConsoleSettings(
        session_idle_minutes=10.0,
        trusted_user_header="x-remote-user",
        trusted_proxies=("10.0.0.5/32", "10.1.0.0/16"),
    )
    assert parsed.console_users_file == "/srv/a/console-users.json"
    assert parsed.console_exports_dir == "/srv/a/console-exports"
    for name, value in (
        ("CONSOLE_TRUSTED_PROXIES", "proxy.example.com"),
        ("CONSOLE_SESSION_MAX_HOURS", "0"),
        ("CONSOLE_TRUSTED_USER_HEADER", "X Remote: User"),
    ):
        with pytest.raises(SettingError, match=name):
            Settings.from_env({name: value})


def test_users_commands_keep_hashes_only_in_an_owner_only_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    monkeypatch.setenv("CONSOLE_USERS_FILE", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["users", "add", "alice@example.com", "--role", "reviewer", "--password-stdin"]
    assert main(argv) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PASSWORD not in text
    entry = json.loads(text)["users"]["alice@example.com"]
    assert entry["role"] == "reviewer" and entry["enabled"] is True
    assert entry["password"]["algorithm"] == "scrypt"
    assert (entry["password"]["n"], entry["password"]["r"], entry["password"]["p"]) == (
        2**14,
        8,
        1,
    )
    assert len(bytes.fromhex(entry["password"]["salt"])) == 16

    assert main(["users", "disable", "alice@example.com"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["user"], u["role"], u["status"]) for u in listed] == [
        ("alice@example.com", "reviewer", "disabled")
    ]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (
            ["users", "add", "bob", "--role", "auditor", "--password-stdin"],
            "short\n",
            "at least 12 characters",
        ),
        (
            ["users", "add", "bad name", "--role", "auditor", "--password-stdin"],
            PASSWORD,
            "user name",
        ),
        (["users", "add", "bob", "--role", "auditor"], "", "--password-stdin"),
        (["users", "disable", "nobody"], "", "no user 'nobody'"),
    ],
)
def test_users_commands_refuse_bad_input_with_one_line(
    tmp_path, monkeypatch, capsys, argv, stdin, message
):
    monkeypatch.setenv("CONSOLE_USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "users.json").exists()


def test_a_second_user_of_the_same_name_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONSOLE_USERS_FILE", str(tmp_path / "users.json"))
    for expected in (0, 2):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD))
        assert main(["users", "add", "bob", "--role", "admin", "--password-stdin"]) == expected
    assert "already exists" in capsys.readouterr().err


def test_the_console_command_refuses_to_start_without_users(
    tmp_path, monkeypatch, capsys, console_archive
):
    monkeypatch.setenv("AUDIT_DB", str(console_archive["audit_db"]))
    monkeypatch.setenv("ARCHIVE_URI", str(console_archive["root"]))
    monkeypatch.setenv("CONSOLE_USERS_FILE", str(tmp_path / "none.json"))
    assert main(["console", "--port", "0"]) == 2
    assert "rc-archive users add" in capsys.readouterr().err


def test_a_password_signs_in_only_its_user(console_archive, tmp_path, monkeypatch):
    path = tmp_path / "users.json"
    monkeypatch.setenv("CONSOLE_USERS_FILE", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["users", "add", "dora", "--role", "auditor", "--password-stdin"]) == 0
    with (
        running_console(console_settings(console_archive, tmp_path), path) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        assert login(client, "dora", PASSWORD).status_code == 401
        assert login(client, "dora", "another long password").status_code == 303


def test_rc_archive_console_serves_the_login_page(console_archive, tmp_path):
    """The command as an operator starts it: a child process on 127.0.0.1, stopped by SIGINT."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "AUDIT_DB": str(console_archive["audit_db"]),
        "ARCHIVE_URI": str(console_archive["root"]),
        "CONSOLE_USERS_FILE": str(console_archive["users_file"]),
        "CONSOLE_EXPORTS_DIR": str(tmp_path / "exports"),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "console", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = child.stdout.readline()
        assert first.startswith(f"console on http://127.0.0.1:{port}/"), first
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, child.stderr.read()
                time.sleep(0.1)
        assert answer.status_code == 200 and 'id="login-form"' in answer.text
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
