"""The webhook receiver: an ASGI app (Starlette, served by uvicorn) that RingCentral POSTs to.

- A request with a `Validation-Token` header is the subscription handshake: answered 200 with
  the header echoed, nothing stored.
- Every other POST is a notification: its `Verification-Token` header must equal
  RC_WEBHOOK_VERIFICATION_TOKEN (compared in constant time), else 403 and nothing is stored.
- An accepted notification is written to the event log (pipelines/webhooks/events.py) BEFORE
  the 200 goes out: when RingCentral sees 200 the event is durable in the archive. A write that
  fails answers 503, so RingCentral delivers it again instead of it being lost.
- With a witness (ARCHIVE_WITNESS_URI), the event's SHA-256 is witnessed before the 200 too;
  a witness write that fails answers 503 as well. The sync offers only witnessed events, so an
  event edited in the archive afterwards never becomes an archived version (docs/webhooks.md).

It does no API call and no archiving itself: it answers in a few milliseconds (one object
write), and the sensor turns a burst of events into one run per source.
Logs name the event, the source and the key; never the token or the payload.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.archive.store import ObjectStore, StoreWriteError
from pipelines.archive.witnessing import LogWitness
from pipelines.server_thread import ServerThread
from pipelines.webhooks.events import log_event

log = logging.getLogger("pipelines.webhooks.receiver")

VALIDATION_HEADER = "Validation-Token"
VERIFICATION_HEADER = "Verification-Token"
# Notifications are a few KB (one content); anything far larger is not RingCentral.
MAX_BODY_BYTES = 1_000_000


def build_app(
    store: ObjectStore,
    verification_token: str,
    path: str = "/",
    witness: LogWitness | None = None,
) -> Starlette:
    """The receiver for `store`; notifications must carry `verification_token`. With a
    `witness` (pipelines/integrity/witness.py) each event is witnessed before its 200."""
    if not verification_token:
        raise ValueError(
            "the webhook receiver needs RC_WEBHOOK_VERIFICATION_TOKEN: without it anyone who "
            "finds the address could write events into the archive"
        )
    expected = verification_token.encode()

    async def receive(request: Request) -> Response:
        validation = request.headers.get(VALIDATION_HEADER)
        if validation is not None:
            # The handshake carries no payload and writes nothing.
            return Response(status_code=200, headers={VALIDATION_HEADER: validation})
        offered = request.headers.get(VERIFICATION_HEADER, "").encode("latin-1", "replace")
        if not hmac.compare_digest(offered, expected):
            log.warning(
                "webhook refused: %s Verification-Token",
                "wrong" if offered else "missing",
            )
            return JSONResponse({"error": "verification token refused"}, status_code=403)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            notification = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            log.warning("webhook refused: body is not JSON (%d bytes)", len(body))
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(notification, dict):
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        try:
            logged = await run_in_threadpool(
                lambda: log_event(
                    store, notification, received_at=datetime.now(UTC), witness=witness
                )
            )
        except (StoreWriteError, OSError) as exc:
            # Not 200: RingCentral keeps the event and delivers it again.
            log.error("webhook event NOT stored (%s); answered 503", type(exc).__name__)
            return JSONResponse({"error": "event not stored, retry"}, status_code=503)
        log.info(
            "webhook event stored: event=%s source=%s key=%s",
            str(notification.get("event"))[:80],
            logged.source_id,
            logged.key,
        )
        return JSONResponse({"stored": logged.key}, status_code=200)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


def uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # the access log would print nothing secret, but nothing useful either
        lifespan="off",
        timeout_keep_alive=30,
    )


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve until interrupted (the `rc-archive receive` command)."""
    uvicorn.Server(uvicorn_config(app, host, port)).run()


class ReceiverThread(ServerThread):
    """The receiver in a background thread on a free port (tests, benchmarks, the demo)."""

    def __init__(
        self,
        store: ObjectStore,
        verification_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        witness: LogWitness | None = None,
    ) -> None:
        self.app = build_app(store, verification_token, witness=witness)
        super().__init__(uvicorn_config(self.app, host, port), "webhook receiver")

    def start(self) -> ReceiverThread:
        super().start()
        self.url += "/"  # RingCentral posts to the receiver's root
        return self
