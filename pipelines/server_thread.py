"""An ASGI app served by uvicorn in a background thread of this process, on a free port.

Why one class: the webhook receiver, the cosigning witness and the console each run this way
in tests, benchmarks and the demo, and each needs the same care: no signal handlers of its own
(the process's Ctrl-C belongs to the caller), `start` returns only once the socket listens (or
raises when the server died or never came up), and the URL names the port the OS picked.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Self

START_SECONDS = 30


class ServerThread:
    """`config` (a uvicorn.Config) served in a thread named `name`; `url` once started."""

    def __init__(self, config: Any, name: str, *, daemon: bool = False) -> None:
        import uvicorn

        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=daemon)
        self.name = name
        self.host = config.host
        self.port = 0
        self.url = ""

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
