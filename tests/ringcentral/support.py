"""Helpers shared by the client tests (imported, not fixtures)."""

from __future__ import annotations

from pipelines.ringcentral import ClientSettings, RingCentralClient


def client_settings(env: dict[str, str], **overrides: object) -> ClientSettings:
    """Settings from a sandbox's env, with backoff shrunk so fault tests take milliseconds."""
    fast = {
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "connect_timeout_seconds": 2.0,
        "read_timeout_seconds": 5.0,
        # One client's own token (login, refresh, revoke): the machine's shared token is
        # tested in test_token_cache.py.
        "token_cache": None,
    }
    return ClientSettings.from_env(env, **{**fast, **overrides})


def crawl_ids(client: RingCentralClient, source_id: str, **kwargs: object) -> list[str]:
    """Every content id of a source, in the order served."""
    return [
        record["id"]
        for page in client.iter_content_pages(source_id, **kwargs)
        for record in page.records
    ]
