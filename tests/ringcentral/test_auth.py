"""Login, token reuse, proactive refresh, one re-login after 401, revoke on close."""

from __future__ import annotations

import time

import pytest

from pipelines import settings
from pipelines.ringcentral import RingCentralClient, errors
from tests.ringcentral.support import client_settings, crawl_ids

TOKEN_PATH = "/restapi/oauth/token"
REVOKE_PATH = "/restapi/oauth/revoke"


def test_token_is_reused_across_calls(sandbox_factory, make_client) -> None:
    sb = sandbox_factory()
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    crawl_ids(client, source_id, per_page=200)
    crawl_ids(client, source_id, per_page=200)
    assert sb.stats.requests(path_prefix=TOKEN_PATH) == 1
    assert client.stats.logins == 1


def test_token_expiry_mid_crawl_is_recovered_with_one_relogin(sandbox_factory, make_client):
    sb = sandbox_factory()
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    ids: list[str] = []
    for number, page in enumerate(client.iter_content_pages(source_id, per_page=50)):
        ids.extend(r["id"] for r in page.records)
        if number == 1:
            sb.faults.expire_tokens_now()  # the server forgets our token between two pages
    assert set(ids) == sb.world.content_ids(source_id)
    assert len(ids) == len(set(ids))
    assert client.stats.relogins_after_401 == 1
    assert client.stats.logins == 2
    assert sb.stats.status_count(401) == 1


def test_short_lived_tokens_are_refreshed_before_they_expire(sandbox_factory, make_client):
    sb = sandbox_factory(token_ttl_seconds=1.0)
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    for _ in range(4):
        crawl_ids(client, source_id, per_page=1000)
        time.sleep(0.4)
    assert client.stats.refreshes >= 1
    assert client.stats.relogins_after_401 == 0
    assert sb.stats.status_count(401) == 0


def test_401_twice_raises_auth_error_without_looping(sandbox_factory, make_client) -> None:
    """If even a fresh token is refused, the client stops after one re-login."""
    sb = sandbox_factory(token_ttl_seconds=0.0)  # every token is born expired
    client = make_client(sb.env, refresh_margin_seconds=0.0)
    with pytest.raises(errors.AuthError) as caught:
        client.get_content(sorted(sb.world.content_ids(sb.world.source_ids[0]))[0])
    assert caught.value.status == 401
    assert caught.value.error_code == "OAU-128"
    assert sb.stats.status_count(401) == 2
    assert client.stats.relogins_after_401 == 1


def test_close_revokes_the_session(sandbox_factory) -> None:
    sb = sandbox_factory()
    with RingCentralClient(client_settings(sb.env)) as client:
        client.login()
    assert sb.stats.requests(path_prefix=REVOKE_PATH) == 1
    with pytest.raises(errors.RingCentralError, match="closed"):
        client.get_extension("1")


def test_wrong_client_secret_is_an_auth_error_naming_the_settings(sandbox) -> None:
    env = {**sandbox.env, settings.RC_APP_CLIENT_SECRET: "wrong-secret-value-123"}
    with (
        RingCentralClient(client_settings(env)) as client,
        pytest.raises(errors.AuthError) as caught,
    ):
        client.login()
    assert caught.value.needs_person
    assert caught.value.error_code == "OAU-146" and caught.value.status == 401
    assert settings.RC_APP_CLIENT_SECRET in str(caught.value)


def test_wrong_jwt_is_an_auth_error_naming_rc_user_jwt(sandbox) -> None:
    header, claims, signature = sandbox.env[settings.RC_USER_JWT].split(".")
    forged = f"{header}.{claims}.{signature[::-1]}"
    env = {**sandbox.env, settings.RC_USER_JWT: forged}
    with (
        RingCentralClient(client_settings(env)) as client,
        pytest.raises(errors.AuthError) as caught,
    ):
        client.login()
    assert caught.value.error_code == "OAU-140" and caught.value.status == 400
    assert settings.RC_USER_JWT in str(caught.value)


def test_refused_refresh_falls_back_to_a_jwt_login(sandbox_factory, make_client) -> None:
    sb = sandbox_factory(token_ttl_seconds=1.0)
    client = make_client(sb.env)
    source_id = sb.world.source_ids[0]
    client.login()
    for refresh_token in list(sb.auth._by_refresh):  # the session is ended on the server side
        sb.auth.revoke(refresh_token)
    time.sleep(0.6)  # past half the token's life: the next call wants a refresh
    assert set(crawl_ids(client, source_id, per_page=1000)) == sb.world.content_ids(source_id)
    assert client.stats.refreshes == 0 and client.stats.logins == 2
    assert sb.stats.status_count(400) == 1  # the refused refresh (OAU-211)
    assert sb.stats.status_count(401) == 0
