"""`python -m sandbox serve` as a real subprocess, and the live-traffic thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.sandbox.support import CONTENTS, api_client


def test_cli_serves_and_writes_env_file(tmp_path: Path):
    env_file = tmp_path / "sandbox.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--contents", "300", "--seed", "5",
         "--env-file", str(env_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2], env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while not env_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        settings = dict(line.split("=", 1) for line in env_file.read_text().split())
        assert set(settings) >= {"RC_SERVER_URL", "RC_USER_JWT", "RC_SOURCE_IDS"}
        health = httpx.get(f"{settings['RC_SERVER_URL']}/_sandbox/health").json()
        assert health["ok"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_live_traffic_adds_and_changes_contents(sandbox_factory):
    sb = sandbox_factory(contents=300, live_rate=50.0)
    before = sb.world.row_count
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    time.sleep(1.0)
    assert sb.world.row_count > before
    with api_client(sb) as api:
        newest = api.get(CONTENTS, params={"perPage": 1}).json()["records"][0]
        assert newest["creationTime"] >= started  # a live-generated content is served first
        changed = api.get(CONTENTS, params={"perPage": 5, "orderBy": "-lastModifiedTime"})
        assert all(r["lastModifiedTime"] >= started for r in changed.json()["records"])
