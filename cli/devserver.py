"""`make dev`: the sandbox API, `dagster dev` and the web console, wired together, for clicking
through the UIs.

If RC_SERVER_URL is already set (a real account or a sandbox you started), the sandbox does not
start. The console (`rc-archive console`, port 8780) reads the same archive and catalog as
Dagster; it starts as soon as the catalog exists (a fresh checkout has none before its first
run, and the console refuses to serve without one). Unless CONSOLE_USERS_FILE names a users
file of your own, it gets a demo one in .demo/, remade at every start with one user per role
(demo-reviewer, demo-auditor, demo-admin) and a password generated for this start and printed
once: demo users for a laptop, never for a real archive. Every child runs in its own process
group and is stopped as a group: `dagster dev` started from a script otherwise ignores
SIGINT/SIGTERM (docs/internals.md, "Dependency notes").
"""

from __future__ import annotations

import os
import secrets
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


CONSOLE_PORT = 8780
DEMO_USERS_FILE = DEMO_DIR / "console-users.json"
DEMO_ROLES = ("reviewer", "auditor", "admin")


def _demo_users(env: dict[str, str]) -> str | None:
    """Remake the demo users file with one user per role; their shared password (None when
    CONSOLE_USERS_FILE names the operator's own file, which is used as it is)."""
    if env.get(names.CONSOLE_USERS_FILE):
        return None
    DEMO_DIR.mkdir(exist_ok=True)
    DEMO_USERS_FILE.unlink(missing_ok=True)
    env[names.CONSOLE_USERS_FILE] = str(DEMO_USERS_FILE.resolve())
    password = secrets.token_urlsafe(12)
    for role in DEMO_ROLES:
        subprocess.run(
            [sys.executable, "-m", "cli", "users", "add", f"demo-{role}", "--role", role]
            + ["--password-stdin"],
            env=env,
            input=password + "\n",
            text=True,
            check=True,
        )
    return password


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
    console: subprocess.Popen | None = None
    try:
        password = _demo_users(env)
        print("Dagster UI on http://127.0.0.1:3000")
        _print_console_users(password)
        if not Path(env[names.AUDIT_DB]).exists():
            print(
                "  the console starts once a run has built the catalog (materialize the assets "
                "in the Dagster UI, or run `make demo` first)"
            )
        print("Ctrl-C stops everything", flush=True)
        while all(child.poll() is None for child in children):
            if console is None and Path(env[names.AUDIT_DB]).exists():
                console = _start(
                    [sys.executable, "-m", "cli", "console", "--port", str(CONSOLE_PORT)], env
                )
                children.append(console)
                print(f"Console on http://127.0.0.1:{CONSOLE_PORT}", flush=True)
            time.sleep(0.5)
    except subprocess.CalledProcessError:
        print("make dev: the demo console users were not created (see the line above)")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            _stop(child)
    return 0


def _print_console_users(password: str | None) -> None:
    if password is None:
        print("Console users: those of CONSOLE_USERS_FILE")
        return
    users = ", ".join(f"demo-{role}" for role in DEMO_ROLES)
    print(f"Console users {users}, password for this start only: {password}")
    print("  (demo-only users in .demo/console-users.json, remade at every `make dev`)")


if __name__ == "__main__":
    sys.exit(main())
