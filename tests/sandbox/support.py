"""Helpers for sandbox tests: a logged-in httpx client speaking to a SandboxServer."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sandbox.server import SandboxServer

CONTENTS = "/cx/social-messaging/v1/contents"
IDENTITIES = "/cx/social-messaging/v1/identities"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def unsigned(value):
    """`value` (a record, a page, a list of them) with every attachment link cut before its
    query string: the sandbox signs a new link (exp, n, sig) each time it serves a content, as
    RingCentral does, so two servings of the same content are equal only without them."""
    if isinstance(value, list):
        return [unsigned(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: unsigned(item) for key, item in value.items()}
    attachments = out.get("attachments")
    if isinstance(attachments, list):
        out["attachments"] = [
            {**a, "uri": a["uri"].split("?", 1)[0]}
            if isinstance(a, dict) and isinstance(a.get("uri"), str)
            else a
            for a in attachments
        ]
    return out


def login(sb: SandboxServer, client: httpx.Client | None = None) -> dict:
    env = sb.env
    response = (client or httpx).post(
        f"{sb.url}/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": env["RC_USER_JWT"]},
        auth=(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]),
    )
    assert response.status_code == 200, response.text
    return response.json()


def api_client(sb: SandboxServer) -> httpx.Client:
    token = login(sb)["access_token"]
    return httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)


def crawl(client: httpx.Client, params: dict, per_page: int = 500) -> list[dict]:
    """Every record of a listing, following nextPageToken."""
    records: list[dict] = []
    token = None
    while True:
        query = dict(params, perPage=per_page)
        if token:
            query["pageToken"] = token
        body = client.get(CONTENTS, params=query).raise_for_status().json()
        records += body["records"]
        token = body["paging"].get("nextPageToken")
        if not token:
            return records


@pytest.fixture
def api(sandbox):
    with api_client(sandbox) as client:
        yield client


class Receiver:
    """A tiny real HTTP server that answers the handshake (unless told not to) and records."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.notifications: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                token = self.headers.get("Validation-Token")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if token and receiver.echo:
                    self.send_header("Validation-Token", token)
                self.end_headers()
                if not token:
                    receiver.notifications.append((dict(self.headers), json.loads(body)))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
