"""SandboxServer: the whole local RingCentral in a background uvicorn thread on a free port."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from sandbox.app import SandboxApp
from sandbox.auth import AuthService, derive_credentials
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.live import LiveTraffic
from sandbox.ratelimit import RateLimiter
from sandbox.stats import Stats
from sandbox.webhooks import Webhooks
from sandbox.world import World


class SandboxServer:
    """`with SandboxServer(cfg) as sb:` gives sb.url, sb.env, sb.world, sb.faults, sb.stats."""

    def __init__(
        self, cfg: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.cfg = cfg or SandboxConfig()
        self.host = host
        self.port = port
        started = time.perf_counter()
        self.world = World(self.cfg)
        self.build_seconds = time.perf_counter() - started
        self.credentials = derive_credentials(self.cfg.seed, self.world.owner_ext_id, "")
        self.auth = AuthService(
            self.credentials, self.cfg.token_ttl_seconds, self.cfg.refresh_ttl_seconds
        )
        self.faults = Faults(
            self.cfg.seed,
            expire_tokens=self.auth.expire_all_now,
            expire_links=self.world.expire_attachment_links,
        )
        for endpoint, settings in self.cfg.faults.items():
            self.faults.set(endpoint, **settings)
        self.stats = Stats()
        self.webhooks = Webhooks(self.cfg.webhook_timeout_seconds)
        self.app = SandboxApp(
            self.cfg,
            self.world,
            self.auth,
            RateLimiter(self.cfg),
            self.faults,
            self.stats,
            self.webhooks,
        )
        self.world.listeners.append(self._publish)
        self.live = LiveTraffic(self.world, self.cfg.live_rate, self.cfg.seed)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _publish(self, event: str, row: int) -> None:
        with self.world.lock:
            resource = self.world.row_json(row)
        # Like RingCentral's event payloads: a webhook-only flag beside the record's fields.
        resource["hasAttachment"] = bool(resource.get("attachments"))
        self.webhooks.publish(event, resource)

    @property
    def env(self) -> dict[str, str]:
        """The settings a client needs (RC_* names from docs/internals.md)."""
        return {
            "RC_SERVER_URL": self.url,
            "RC_APP_CLIENT_ID": self.credentials.client_id,
            "RC_APP_CLIENT_SECRET": self.credentials.client_secret,
            "RC_USER_JWT": self.credentials.user_jwt,
            "RC_SOURCE_IDS": ",".join(self.world.source_ids),
        }

    def start(self) -> SandboxServer:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="httptools",
            loop="asyncio",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.run, name="sandbox-uvicorn", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server did not start on {self.host}:{self.port}")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        self.app.server_url = self.url
        self.world.files_base_url = self.url
        self.app.env = self.env
        self.webhooks.start()
        self.live.start()
        return self

    def stop(self) -> None:
        self.live.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.webhooks.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
