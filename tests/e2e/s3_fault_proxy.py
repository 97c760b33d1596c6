"""A fault-injection double in front of the real S3 server (moto over HTTP) for the fault matrix.

Every request is forwarded unchanged to the real server, except a share of PutObject requests,
which get what a flaky or hostile S3 endpoint does: a 500/503 error document, a connection
reset in the middle of the upload, or (when writes are denied) 403 AccessDenied. Faults are
injected *before* forwarding, so a refused put never reaches the bucket, exactly as with a
load balancer or an S3 front end that fails. Seeded, so a failing test replays the same way.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


@dataclass
class PutFaults:
    """What the proxy does to PutObject requests; change it at runtime (under `lock`)."""

    error_ratio: float = 0.0  # share of puts answered with a 5xx error document
    error_statuses: tuple[int, ...] = (500, 503)
    reset_ratio: float = 0.0  # share of puts whose connection is reset mid-upload
    deny_all: bool = False  # every put gets 403 AccessDenied (a bucket that refuses writes)


@dataclass
class ProxyCounts:
    puts: int = 0
    errors_injected: int = 0
    resets_injected: int = 0
    denied: int = 0


_ERROR_CODES = {
    403: ("AccessDenied", "Access Denied"),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class S3FaultProxy:
    """`with S3FaultProxy(upstream_url, seed=1) as proxy:` then point AWS_ENDPOINT_URL at
    `proxy.endpoint_url`; set `proxy.faults` fields to inject, `proxy.lift()` to heal."""

    def __init__(self, upstream_url: str, *, seed: int = 1) -> None:
        parts = urlsplit(upstream_url)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults = PutFaults()
        self.counts = ProxyCounts()
        self.lock = threading.Lock()
        self._rng = random.Random(seed)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="s3-fault-proxy", daemon=True
        )

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set(self, **settings) -> None:
        with self.lock:
            for name, value in settings.items():
                if not hasattr(self.faults, name):
                    raise ValueError(f"unknown PutFaults setting {name!r}")
                setattr(self.faults, name, value)

    def lift(self) -> None:
        with self.lock:
            self.faults = PutFaults()

    def _decide(self) -> tuple[str, int]:
        """For one PutObject: ("forward"|"error"|"reset"|"deny", status)."""
        with self.lock:
            self.counts.puts += 1
            faults = self.faults
            if faults.deny_all:
                self.counts.denied += 1
                return "deny", 403
            roll = self._rng.random()
            if roll < faults.error_ratio:
                self.counts.errors_injected += 1
                return "error", self._rng.choice(faults.error_statuses)
            if roll < faults.error_ratio + faults.reset_ratio:
                self.counts.resets_injected += 1
                return "reset", 0
            return "forward", 0

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib name
                return

            def _is_put_object(self) -> bool:
                path = urlsplit(self.path).path.strip("/")
                return self.command == "PUT" and "/" in path

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reset_mid_upload(self) -> None:
                # Take part of the body, then RST (SO_LINGER 0): the client sees
                # "connection reset by peer" while it is still sending.
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(max(0, length // 2))
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()

            def _error(self, status: int) -> None:
                self._read_body()
                code, message = _ERROR_CODES[status]
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{code}</Code><Message>{message}</Message>"
                    f"<Resource>{urlsplit(self.path).path}</Resource>"
                    "<RequestId>fault-proxy</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self) -> None:
                body = self._read_body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status, response.reason)
                    head = self.command == "HEAD"
                    for key, value in response.getheaders():
                        if key.lower() in HOP_BY_HOP:
                            continue
                        # A HEAD answer has no body but states the object's real length.
                        if key.lower() != "content-length" or head:
                            self.send_header(key, value)
                    if not head:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            def _handle(self) -> None:
                if self._is_put_object():
                    action, status = proxy._decide()
                    if action == "deny":
                        return self._error(403)
                    if action == "error":
                        return self._error(status)
                    if action == "reset":
                        return self._reset_mid_upload()
                self._forward()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        return Handler

    def start(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> S3FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
