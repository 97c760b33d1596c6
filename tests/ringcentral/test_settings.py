"""Settings fail at start with a message that names the variable to fix."""

from __future__ import annotations

import pytest

from pipelines import settings
from pipelines.ringcentral import ClientSettings, errors

GOOD_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"
GOOD_ENV = {
    settings.RC_APP_CLIENT_ID: "app-client-id",
    settings.RC_APP_CLIENT_SECRET: "app-client-secret-value",
    settings.RC_USER_JWT: GOOD_JWT,
}


def test_defaults_follow_ringcentral_samples() -> None:
    loaded = ClientSettings.from_env(GOOD_ENV)
    assert loaded.server_url == "https://platform.ringcentral.com"
    assert loaded.source_filter_param == "sourceIds"
    assert loaded.max_attempts == 6


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(errors.ClientConfigError) as caught:
        ClientSettings.from_env({settings.RC_APP_CLIENT_ID: "x"})
    assert settings.RC_APP_CLIENT_SECRET in str(caught.value)
    assert settings.RC_USER_JWT in str(caught.value)
    assert caught.value.needs_person


@pytest.mark.parametrize(
    "url", ["platform.ringcentral.com", "ftp://platform.ringcentral.com", "https://", "https://h/x"]
)
def test_malformed_server_url_is_named(url: str) -> None:
    with pytest.raises(errors.ClientConfigError, match=settings.RC_SERVER_URL):
        ClientSettings.from_env({**GOOD_ENV, settings.RC_SERVER_URL: url})


@pytest.mark.parametrize("jwt", ["not-a-jwt", "a.b", "a..c", "a.b.c.d", "a.b c.d"])
def test_malformed_jwt_is_named_without_echoing_it(jwt: str) -> None:
    with pytest.raises(errors.ClientConfigError, match=settings.RC_USER_JWT) as caught:
        ClientSettings.from_env({**GOOD_ENV, settings.RC_USER_JWT: jwt})
    assert jwt not in str(caught.value)


def test_unknown_source_filter_spelling_lists_the_known_ones() -> None:
    with pytest.raises(errors.ClientConfigError, match="channelIds"):
        ClientSettings.from_env({**GOOD_ENV, settings.RC_SOURCE_FILTER_PARAM: "channels"})


def test_repr_hides_secrets() -> None:
    loaded = ClientSettings.from_env(GOOD_ENV)
    text = repr(loaded) + str(loaded)
    assert GOOD_JWT not in text
    assert "app-client-secret-value" not in text
    assert "app-client-id" in text


def test_load_env_file(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n\nRC_SERVER_URL=http://127.0.0.1:9\nexport RC_USER_JWT='a.b.c'\n"
        'RC_APP_CLIENT_ID="id with = sign"\n'
    )
    assert settings.load_env_file(env_file) == {
        "RC_SERVER_URL": "http://127.0.0.1:9",
        "RC_USER_JWT": "a.b.c",
        "RC_APP_CLIENT_ID": "id with = sign",
    }


def test_load_env_file_names_the_bad_line_not_its_content(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nsupersecretvalue\n")
    with pytest.raises(ValueError, match=r"\.env:2") as caught:
        settings.load_env_file(env_file)
    assert "supersecretvalue" not in str(caught.value)
