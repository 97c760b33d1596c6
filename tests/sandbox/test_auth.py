"""OAuth JWT bearer, refresh, revoke and the 401 bodies of RingCentral."""

from __future__ import annotations

import time

import httpx

from tests.sandbox.support import CONTENTS, JWT_GRANT, login


def _token(sb, data, auth=None):
    env = sb.env
    return httpx.post(
        f"{sb.url}/restapi/oauth/token",
        data=data,
        auth=auth or (env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]),
    )


def _list(sb, token):
    return httpx.get(f"{sb.url}{CONTENTS}", headers={"Authorization": f"Bearer {token}"})


def test_token_response_fields(sandbox):
    body = login(sandbox)
    assert body["token_type"] == "bearer"
    assert {"SocialMessaging", "ReadAccounts"} <= set(body["scope"].split())
    assert body["owner_id"] == sandbox.world.owner_ext_id
    for key in ("access_token", "refresh_token", "endpoint_id", "session_id"):
        assert isinstance(body[key], str) and body[key]
    assert body["expires_in"] == 3600 and body["refresh_token_expires_in"] > 0


def test_wrong_client_and_bad_jwt(sandbox):
    env = sandbox.env
    wrong = _token(sandbox, {"grant_type": JWT_GRANT, "assertion": env["RC_USER_JWT"]},
                   auth=(env["RC_APP_CLIENT_ID"], "nope"))  # fmt: skip
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["errors"][0]["errorCode"] in ("OAU-123", "OAU-146")
    none = httpx.post(f"{sandbox.url}/restapi/oauth/token", data={"grant_type": JWT_GRANT})
    assert none.status_code == 401 and none.json()["errors"][0]["errorCode"] == "OAU-123"
    tampered = env["RC_USER_JWT"][:-4] + "AAAA"
    bad = _token(sandbox, {"grant_type": JWT_GRANT, "assertion": tampered})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    garbage = _token(sandbox, {"grant_type": JWT_GRANT, "assertion": "x.y"})
    assert garbage.status_code == 400
    unsupported = _token(sandbox, {"grant_type": "password"})
    assert unsupported.status_code == 400


def test_refresh_and_revoke(sandbox):
    first = login(sandbox)
    refreshed = _token(sandbox, {"grant_type": "refresh_token",
                                 "refresh_token": first["refresh_token"]})  # fmt: skip
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert _list(sandbox, first["access_token"]).status_code == 401  # replaced by the refresh
    assert _list(sandbox, new["access_token"]).status_code == 200
    reused = _token(
        sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 400
    env = sandbox.env
    revoked = httpx.post(f"{sandbox.url}/restapi/oauth/revoke", data={"token": new["access_token"]},
                         auth=(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]))  # fmt: skip
    assert revoked.status_code == 200
    after = _list(sandbox, new["access_token"])
    assert after.status_code == 401
    assert after.json()["errorCode"] == "TokenInvalid"
    assert after.json()["errors"][0]["errorCode"] == "OAU-213"


def test_missing_malformed_and_expired_tokens(sandbox_factory):
    sb = sandbox_factory(token_ttl_seconds=1.0, contents=200)
    missing = httpx.get(f"{sb.url}{CONTENTS}")
    assert missing.status_code == 401 and missing.json()["errors"][0]["errorCode"] == "OAU-123"
    malformed = _list(sb, "definitely-not-a-token")
    assert malformed.status_code == 401 and malformed.json()["errors"][0]["errorCode"] == "OAU-149"
    token = login(sb)["access_token"]
    assert _list(sb, token).status_code == 200
    time.sleep(1.1)
    expired = _list(sb, token)
    assert expired.status_code == 401 and expired.json()["errors"][0]["errorCode"] == "OAU-128"
    fresh = login(sb)["access_token"]
    sb.faults.expire_tokens_now()
    assert _list(sb, fresh).json()["errors"][0]["errorCode"] == "OAU-128"


def test_auth_group_is_rate_limited(sandbox_factory):
    sb = sandbox_factory(auth_limit=2, window_seconds=2.0, penalty_seconds=1.0, contents=100)
    env = sb.env
    grant = {"grant_type": JWT_GRANT, "assertion": env["RC_USER_JWT"]}
    statuses = [_token(sb, grant).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert sb.stats.requests(group="Auth") == 3
