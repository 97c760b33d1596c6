"""`rc-archive subscribe`, `rc-archive sources` and `rc-archive receive` (a real process,
killed with SIGKILL after its 200s: every event it acknowledged is in the archive)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx

from cli.main import main
from tests.webhooks.support import TOKEN, event_keys, wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_subscribe_and_sources(sandbox_factory, receiver, archive_uri, monkeypatch, capsys):
    sb = sandbox_factory(contents=100)
    for name, value in sb.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARCHIVE_URI", archive_uri)
    monkeypatch.setenv("RC_WEBHOOK_VERIFICATION_TOKEN", TOKEN)
    monkeypatch.delenv("RC_WEBHOOK_ADDRESS", raising=False)
    assert main(["subscribe"]) == 2
    assert "RC_WEBHOOK_ADDRESS" in capsys.readouterr().err
    monkeypatch.setenv("RC_WEBHOOK_ADDRESS", receiver.url)
    assert main(["subscribe"]) == 0
    assert capsys.readouterr().out.startswith("create: subscription ")
    assert main(["subscribe"]) == 0
    assert capsys.readouterr().out.startswith("none: ")
    assert main(["subscribe", "--renew"]) == 0
    assert capsys.readouterr().out.startswith("renew: ")
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert "webhook subscription" in out and "Active" in out and TOKEN not in out


def test_receive_process_killed_after_its_200s_lost_nothing(store, archive_uri, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "ARCHIVE_URI": archive_uri,
        "RC_WEBHOOK_VERIFICATION_TOKEN": TOKEN,
        "PYTHONPATH": os.getcwd(),
    }
    cmd = [sys.executable, "-m", "cli", "receive", "--port", str(port), "--path", "/h"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/h"
    try:

        def up() -> bool:
            try:
                return httpx.post(url, headers={"Validation-Token": "t"}).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=60)
        source_id = "65c3fdd9527bf900079cefcb"
        stored = []
        with httpx.Client() as http:
            for i in range(20):
                note = {
                    "uuid": str(i),
                    "event": "e",
                    "body": {"resource": {"channelId": source_id}},
                }
                answer = http.post(url, json=note, headers={"Verification-Token": TOKEN})
                assert answer.status_code == 200
                stored.append(answer.json()["stored"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert event_keys(store) == sorted(stored)
        # The operator sees each accepted event: one line with its key (never its body).
        said = proc.stderr.read().decode()
        assert all(f"key={key}" in said for key in stored), said
        assert said.count("webhook event stored") == len(stored)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
