"""No secret (client secret, JWT, access or refresh token) in any log line, error or repr.

The run goes through every path that touches a secret: login, proactive refresh, 401 and
re-login, a failed login, errors, and revoke, with every logger at DEBUG (httpx/httpcore too).
"""

from __future__ import annotations

import logging
import time

import pytest

from pipelines import settings
from pipelines.ringcentral import RingCentralClient, errors
from pipelines.ringcentral.redaction import REDACTED, install_log_redaction, register_secret
from tests.ringcentral.support import client_settings, crawl_ids


def _issued_tokens(sb) -> set[str]:
    """Every access and refresh token the sandbox handed out (read from the server side)."""
    auth = sb.auth
    return (
        set(auth._by_access)
        | set(auth._by_refresh)
        | {
            token
            for session in list(auth._by_access.values()) + list(auth._by_refresh.values())
            for token in (session.access_token, session.refresh_token)
        }
    )


def test_no_secret_in_logs_errors_or_reprs(sandbox_factory, caplog) -> None:
    sb = sandbox_factory(token_ttl_seconds=1.0)
    captured_text: list[str] = []
    with caplog.at_level(logging.DEBUG):
        with RingCentralClient(client_settings(sb.env)) as client:
            source_id = sb.world.source_ids[0]
            crawl_ids(client, source_id, per_page=200)
            time.sleep(0.6)  # past half the token's life: the next call refreshes
            crawl_ids(client, source_id, per_page=500)
            sb.faults.expire_tokens_now()  # 401, then one re-login
            crawl_ids(client, source_id, per_page=1000)
            for call in (
                lambda: client.get_content("0123456789abcdef01234567"),
                lambda: next(client.iter_content_pages(source_id, page_token="bad")),
            ):
                with pytest.raises(errors.RingCentralError) as caught:
                    call()
                captured_text += [str(caught.value), repr(caught.value)]
            captured_text += [repr(client), repr(client.settings), repr(client._tokens)]
        bad_env = {**sb.env, settings.RC_APP_CLIENT_SECRET: "another-wrong-secret-456"}
        with RingCentralClient(client_settings(bad_env)) as bad_client:
            with pytest.raises(errors.AuthError) as caught:
                bad_client.login()
            captured_text += [str(caught.value), repr(caught.value)]

    assert client.stats.refreshes >= 1 and client.stats.relogins_after_401 == 1
    secrets = {
        sb.env[settings.RC_APP_CLIENT_SECRET],
        sb.env[settings.RC_USER_JWT],
        "another-wrong-secret-456",
    } | _issued_tokens(sb)
    assert len(secrets) >= 7  # both credentials, the wrong one, and at least 2 sessions' tokens
    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    lines += [str(record.__dict__) for record in caplog.records]
    lines += [caplog.text] + captured_text
    assert len(caplog.records) > 20, "DEBUG logging was not captured"
    assert any("rc.request" in line for line in lines)
    for secret in secrets:
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"a secret ({len(secret)} chars) leaked into: {leaks[0][:200]}"


def test_a_secret_logged_by_mistake_is_redacted(caplog) -> None:
    """Defence in depth: even code that formats a secret into a log line cannot leak it."""
    install_log_redaction()
    secret = "a-registered-secret-value-789"
    register_secret(secret)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("pipelines.ringcentral").debug("token is %s", secret)
        logging.getLogger("httpx").info("url ?token=%s", secret)
    assert secret not in caplog.text
    assert caplog.text.count(REDACTED) == 2
