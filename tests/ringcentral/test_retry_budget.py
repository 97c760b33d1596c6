"""Retries against an API that is down: bounded in time, announced, and free of rate-limit cost.

The API is a closed localhost port (connections refused by the operating system): no mocks.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest

from pipelines.ringcentral import errors
from tests.ringcentral.support import client_settings

FAKE_JWT = "aaaa.bbbb.cccc"


def down_env() -> dict[str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        "RC_SERVER_URL": f"http://127.0.0.1:{port}",
        "RC_APP_CLIENT_ID": f"app-{port}",  # a fresh process-wide limiter for each test
        "RC_APP_CLIENT_SECRET": "secret-value-1",
        "RC_USER_JWT": FAKE_JWT,
    }


class Collect(logging.Handler):
    """A handler on the retry logger itself (the CLI turns its propagation off)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_every_wait_is_announced_on_the_retry_logger(make_client):
    client = make_client(down_env(), max_attempts=4)
    retry_logger = logging.getLogger("pipelines.ringcentral.retry")
    collect = Collect()
    retry_logger.addHandler(collect)
    try:
        with pytest.raises(errors.TransportError) as raised:
            client.login()
    finally:
        retry_logger.removeHandler(collect)
    announced = collect.messages
    assert len(announced) == 3
    assert all("RingCentral API unreachable (ConnectError)" in m for m in announced)
    assert [m.split("retry ")[1].split(" ")[0] for m in announced] == ["1/3", "2/3", "3/3"]
    assert raised.value.unreachable and not raised.value.needs_person
    assert "RC_SERVER_URL" in str(raised.value)


def test_the_retry_budget_ends_retrying_early(make_client):
    # Waits of 1, 2, 4... s would take 15+ s over 6 attempts; a 2 s budget stops after ~1-3 s.
    client = make_client(
        down_env(), backoff_base_seconds=1.0, backoff_max_seconds=30.0, retry_budget_seconds=2.0
    )
    started = time.monotonic()
    with pytest.raises(errors.TransportError) as raised:
        client.login()
    assert time.monotonic() - started < 3.0
    assert "after 6 attempt(s)" not in str(raised.value)


def test_refused_connections_do_not_use_up_auth_slots(make_client):
    """The Auth group allows 5 requests a minute: six login tries against a refused port used
    to wait ~60 s for the sixth slot, although the server never saw the first five."""
    client = make_client(down_env(), max_attempts=6)
    started = time.monotonic()
    with pytest.raises(errors.TransportError, match="after 6 attempt"):
        client.login()
    assert time.monotonic() - started < 10.0


def test_default_settings_bound_retries_to_under_a_minute():
    settings = client_settings(down_env())
    defaults = type(settings)(
        server_url=settings.server_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        jwt=settings.jwt,
    )
    assert defaults.retry_budget_seconds + defaults.connect_timeout_seconds < 60
