"""Helpers for sandbox tests: a logged-in httpx client speaking to a SandboxServer."""

from __future__ import annotations

import httpx
import pytest

from sandbox.server import SandboxServer

CONTENTS = "/cx/social-messaging/v1/contents"
IDENTITIES = "/cx/social-messaging/v1/identities"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


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
