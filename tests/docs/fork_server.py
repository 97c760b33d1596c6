"""`rc-archive` as a child process without paying the imports each time (the doc test's ~40
commands would spend most of their time importing pandas and pandera).

`python -m tests.docs.fork_server SOCKET` imports the modules every command needs, then forks
one child per request. A request comes from `rc-archive` on the doc test's PATH (`client`
below, a stdlib-only script): its argv, environment and working directory, and its own stdin,
stdout and stderr (passed as file descriptors, so the shell's redirections and pipes apply as
they would to `python -m cli`). The child takes them over, runs
`cli.main.main(argv)` and exits as `python -m cli` does (`raise
SystemExit(main(argv))`: atexit handlers, flushes, a traceback and exit 1 on an exception); the
server sends its exit status back to the client, which exits with it.

What the child inherits is the imports, nothing of a previous command: each is a fresh fork of
the server, which never runs a command itself. Only modules that read no setting at import are
preloaded (not `assets`, whose Dagster definitions read the environment when imported).

The server ends when its stdin closes (the test process ended) and kills a child whose client
went away (a timed-out command).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys

# Modules of the CLI's commands that read no setting when imported (~1.4 s of CPU per process).
PRELOAD = (
    "cli.main",
    "pipelines.query.access_logged",
    "pipelines.archive.ledger",
    "pipelines.archive.store",
    "schemas.tables",
)

HEADER = struct.Struct("!I")

CLIENT = """#!{python} -S
# rc-archive (and python -m cli) for the doc test: the command runs in a child of its
# fork server ({socket}). Standard library only, so it starts in milliseconds.
import json, os, signal, socket, struct, sys

argv = sys.argv[1:]
if os.path.basename(sys.argv[0]).startswith("python"):
    if argv[:2] != ["-m", "cli"]:
        os.execv({python!r}, [{python!r}, *argv])
    argv = argv[2:]
request = json.dumps({{"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}}).encode()
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
    conn.connect({socket!r})
    socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
    answer = b""
    while chunk := conn.recv(64):
        answer += chunk
kind, _, number = answer.decode().partition(" ")
if kind == "signal":
    signal.signal(int(number), signal.SIG_DFL)
    os.kill(os.getpid(), int(number))
sys.exit(int(number) if kind == "exit" else 70)
"""


def client_script(python: str, socket_path: str) -> str:
    """The doc test's `rc-archive` and `python` programs (one script, told apart by name)."""
    return CLIENT.format(python=python, socket=socket_path)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < HEADER.size:
        raise ConnectionError("short request")
    (size,) = HEADER.unpack_from(data)
    body = data[HEADER.size :]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("request cut short")
        body += chunk
    return json.loads(body), fds


def _child(request: dict, fds: list[int], closing: list) -> None:
    """In the forked child: become the command, run it, exit as `python -m cli`."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for item in closing:
        item.close() if hasattr(item, "close") else os.close(item)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    sys.argv = ["rc-archive", *request["argv"]]
    from cli.main import main

    raise SystemExit(main(request["argv"]))


def serve(path: str) -> None:
    for name in PRELOAD:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    running: dict[int, socket.socket] = {}  # pid -> the client's connection
    print("ready", flush=True)
    while True:
        watched = [listener, wake_read, sys.stdin, *running.values()]
        ready, _, _ = select.select(watched, [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            for pid in running:
                os.kill(pid, signal.SIGKILL)
            listener.close()
            os.unlink(path)
            return
        if wake_read in ready:
            while True:
                try:
                    if not os.read(wake_read, 512):
                        break
                except BlockingIOError:
                    break
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = running.pop(pid, None)
            if conn is None:
                continue
            if os.WIFSIGNALED(status):
                answer = f"signal {os.WTERMSIG(status)}"
            else:
                answer = f"exit {os.WEXITSTATUS(status)}"
            with contextlib.suppress(OSError):  # the client is gone
                conn.sendall(answer.encode())
            conn.close()
        for pid, conn in list(running.items()):
            if conn in ready:  # the client went away (killed on a timeout): so does its command
                os.kill(pid, signal.SIGKILL)
        if listener in ready:
            conn, _ = listener.accept()
            try:
                request, fds = _receive(conn)
            except (ConnectionError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                conns = [listener, conn, *running.values()]
                _child(request, fds, [*conns, wake_read, wake_write])
            for fd in fds:
                os.close(fd)
            running[pid] = conn


if __name__ == "__main__":
    serve(sys.argv[1])
