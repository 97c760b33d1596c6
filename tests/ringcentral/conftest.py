"""Fixtures of the client tests: clients on a sandbox, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pipelines.ringcentral import RingCentralClient
from tests.ringcentral.support import client_settings


@pytest.fixture
def make_client() -> Iterator[Callable[..., RingCentralClient]]:
    """Open clients on a sandbox (by its env, plus setting overrides); close them all after."""
    opened: list[RingCentralClient] = []

    def _open(env: dict[str, str], **overrides: object) -> RingCentralClient:
        client = RingCentralClient(client_settings(env, **overrides))
        opened.append(client)
        return client

    yield _open
    for client in opened:
        client.close()
