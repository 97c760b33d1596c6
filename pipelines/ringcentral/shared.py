"""One logged-in client per credentials per process, shared by the CLI and every Dagster step.

Why a process-wide pool: the token endpoint allows 5 requests a minute (Auth group), so a login
per step would throttle a multi-source run, and `rc-archive run` logs in before Dagster starts so
bad credentials are one line. The sessions are revoked when the process exits.
"""

from __future__ import annotations

import atexit
import hashlib
import threading

from pipelines.ringcentral.client import RingCentralClient
from pipelines.ringcentral.config import ClientSettings

_shared_clients: dict[tuple[str, str, str], RingCentralClient] = {}
_shared_clients_lock = threading.Lock()


def shared_client(settings: ClientSettings) -> RingCentralClient:
    """The process's client for these settings, as the assets get it: `rc-archive run` logs in
    with it before launching Dagster, so bad credentials or an API that is down are reported
    in one line before any step starts, and the steps reuse that token (no second login)."""
    credentials = f"{settings.client_secret}\0{settings.jwt}".encode()
    key = (settings.base_url, settings.client_id, hashlib.sha256(credentials).hexdigest())
    with _shared_clients_lock:
        client = _shared_clients.get(key)
        if client is None:
            client = _shared_clients[key] = RingCentralClient(settings)
        return client


@atexit.register
def _close_shared_clients() -> None:
    with _shared_clients_lock:
        for client in _shared_clients.values():
            client.close()
        _shared_clients.clear()
