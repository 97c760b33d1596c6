"""`make dev`: the sandbox API plus `dagster dev`, wired together, for clicking through the UI.

If RC_SERVER_URL is already set (a real account or a sandbox you started), only Dagster starts.
Both children run in their own process groups and are stopped as groups: `dagster dev` started
from a script otherwise ignores SIGINT/SIGTERM (docs/internals.md, "Dependency notes").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli.demo import (
    DAGSTER_HOME,
    DEMO_ACCOUNT,
    DEMO_DIR,
    DEMO_WINDOW_SECONDS,
    ENV_FILE,
    anchor_ms,
)
from pipelines import settings as names


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    env = dict(os.environ)
    children: list[subprocess.Popen] = []
    if not env.get(names.RC_SERVER_URL):
        DEMO_DIR.mkdir(exist_ok=True)
        ENV_FILE.unlink(missing_ok=True)
        children.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "sandbox",
                    "serve",
                    *(f"--{name}={value}" for name, value in DEMO_ACCOUNT.items()),
                    f"--now-ms={anchor_ms()}",
                    f"--window={DEMO_WINDOW_SECONDS}",
                    f"--penalty={DEMO_WINDOW_SECONDS}",
                    f"--env-file={ENV_FILE}",
                ],
                env,
            )
        )
        deadline = time.monotonic() + 60
        while not ENV_FILE.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        env.update(names.load_env_file(ENV_FILE))
    env.setdefault(names.ARCHIVE_URI, "./archive")
    env.setdefault(names.AUDIT_DB, "./audit.duckdb")
    DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    env.setdefault("DAGSTER_HOME", str(Path(DAGSTER_HOME).resolve()))
    children.append(_start([sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml"], env))
    # A SIGTERM (a supervisor, `timeout`) stops the children too, like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print("Dagster UI on http://127.0.0.1:3000 — Ctrl-C stops everything")
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            _stop(child)
    return 0


if __name__ == "__main__":
    sys.exit(main())
