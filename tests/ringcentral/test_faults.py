"""Retries and typed errors under the sandbox's injected faults (real HTTP, real sockets)."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from pipelines import settings
from pipelines.ringcentral import RingCentralClient, errors
from tests.ringcentral.support import client_settings, crawl_ids


def test_5xx_and_dropped_connections_are_retried(sandbox_factory, make_client) -> None:
    sb = sandbox_factory()
    sb.faults.set("contents", error_5xx_ratio=0.25, drop_connection_ratio=0.15)
    client = make_client(sb.env, max_attempts=8)
    source_id = sb.world.source_ids[0]
    ids = crawl_ids(client, source_id, per_page=50)
    assert set(ids) == sb.world.content_ids(source_id)
    assert len(ids) == len(set(ids))
    assert client.stats.retries > 0


def test_persistent_5xx_becomes_server_error_after_bounded_attempts(sandbox_factory, make_client):
    sb = sandbox_factory()
    sb.faults.set("contents", error_5xx_ratio=1.0)
    client = make_client(sb.env, max_attempts=3)
    with pytest.raises(errors.ServerError) as caught:
        next(client.iter_content_pages(sb.world.source_ids[0]))
    assert caught.value.status >= 500 and caught.value.error_code
    assert sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents") == 3


def test_persistent_drops_become_transport_error(sandbox_factory, make_client) -> None:
    sb = sandbox_factory()
    sb.faults.set("contents", drop_connection_ratio=1.0)
    client = make_client(sb.env, max_attempts=3)
    with pytest.raises(errors.TransportError, match="3 attempt"):
        next(client.iter_content_pages(sb.world.source_ids[0]))


def test_429_burst_is_survived_and_retry_after_honoured(sandbox_factory, make_client) -> None:
    sb = sandbox_factory(penalty_seconds=0.5)
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    client.login()
    sb.faults.set("contents", burst_429=3)
    started = time.monotonic()
    ids = crawl_ids(client, source_id, per_page=1000)
    elapsed = time.monotonic() - started
    assert set(ids) == sb.world.content_ids(source_id)
    assert client.stats.count_429 == 3
    assert elapsed >= 3 * 1.0 * 0.95, "the client retried before Retry-After (1 s)"


def test_429_until_attempts_run_out_is_rate_limited_cmn_301(sandbox_factory, make_client) -> None:
    sb = sandbox_factory(penalty_seconds=0.1)
    client = make_client(sb.env, max_attempts=2)
    client.login()
    sb.faults.set("contents", burst_429=5)
    with pytest.raises(errors.RateLimited) as caught:
        next(client.iter_content_pages(sb.world.source_ids[0]))
    assert caught.value.error_code == "CMN-301" and caught.value.status == 429


def test_refused_page_token_is_page_token_refused_edi_034(sandbox_factory, make_client) -> None:
    sb = sandbox_factory()
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    token = next(client.iter_content_pages(source_id, per_page=10)).next_page_token
    sb.faults.set("contents", refuse_page_tokens=True)
    with pytest.raises(errors.PageTokenRefused) as caught:
        next(client.iter_content_pages(source_id, per_page=10, page_token=token))
    assert caught.value.error_code == "EDI-034" and caught.value.status == 422


def test_garbage_page_token_is_bad_request(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    with pytest.raises(errors.BadRequest) as caught:
        next(client.iter_content_pages(sandbox.world.source_ids[0], page_token="not-a-token"))
    assert caught.value.status == 400 and caught.value.error_code


def test_unknown_content_is_not_found_with_read_permission_hint(sandbox, make_client) -> None:
    client = make_client(sandbox.env)
    with pytest.raises(errors.NotFound) as caught:
        client.get_content("0123456789abcdef01234567")
    assert caught.value.error_code in ("EDI-029", "EDI-032")
    assert "Read permission" in str(caught.value)


def test_hidden_source_yields_nothing_and_logs_a_read_hint(sandbox, make_client, caplog) -> None:
    client = make_client(sandbox.env)
    hidden = sandbox.world.hidden_source_ids[0]
    with caplog.at_level("WARNING", logger="pipelines.ringcentral"):
        pages = list(client.iter_content_pages(hidden))
    assert [r for p in pages for r in p.records] == []
    assert any("Read permission" in r.getMessage() for r in caplog.records)


def test_ignored_source_filter_is_detected(sandbox_factory, make_client) -> None:
    sb = sandbox_factory()
    sb.faults.set("contents", ignore_source_filter="sourceIds")
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    with pytest.raises(errors.FilterIgnoredError) as caught:
        for _ in client.iter_content_pages(source_id, per_page=1000):
            pass
    message = str(caught.value)
    assert "ignored" in message and settings.RC_SOURCE_FILTER_PARAM in message
    assert "channelIds" in message and "source" in message
    assert caught.value.needs_person

    switched = make_client({**sb.env, settings.RC_SOURCE_FILTER_PARAM: "channelIds"})
    assert set(crawl_ids(switched, source_id)) == sb.world.content_ids(source_id)


@pytest.mark.parametrize("spelling", ["sourceIds", "source", "channelIds"])
def test_every_filter_spelling_is_sent_as_configured(sandbox, make_client, spelling) -> None:
    client = make_client({**sandbox.env, settings.RC_SOURCE_FILTER_PARAM: spelling})
    source_id = sandbox.world.source_ids[2]
    assert set(crawl_ids(client, source_id)) == sandbox.world.content_ids(source_id)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nothing_listening_says_check_rc_server_url(sandbox) -> None:
    env = {**sandbox.env, settings.RC_SERVER_URL: f"http://127.0.0.1:{_free_port()}"}
    client = RingCentralClient(client_settings(env, max_attempts=2))
    with client, pytest.raises(errors.TransportError, match=settings.RC_SERVER_URL):
        client.login()


class _WebsiteHandler(http.server.BaseHTTPRequestHandler):
    """A web server that is not the API: HTML 404 for everything."""

    def _not_found(self) -> None:
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _not_found
    do_POST = _not_found

    def log_message(self, *args: object) -> None:
        return


def test_non_api_server_says_check_rc_server_url(sandbox) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebsiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**sandbox.env, settings.RC_SERVER_URL: f"http://127.0.0.1:{server.server_port}"}
        client = RingCentralClient(client_settings(env))
        with (
            client,
            pytest.raises(errors.ClientConfigError, match=settings.RC_SERVER_URL) as caught,
        ):
            client.login()
        assert caught.value.needs_person
    finally:
        server.shutdown()
        server.server_close()
