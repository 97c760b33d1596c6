"""The machine's shared token: processes that start one after another or together log in once
between them, stay inside the Auth limit (5 / 60 s), keep the token owner-only on disk, and
survive a damaged or unusable cache with one login."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from pipelines import settings
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.config import ClientSettings
from pipelines.ringcentral.token_cache import TokenFile

TOKEN_PATH = "/restapi/oauth/token"
REVOKE_PATH = "/restapi/oauth/revoke"

# One "run": a process that opens the client, reads one content and exits (closing it).
RUN = """
import sys
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.config import ClientSettings
from pipelines.settings import load_env_file
env = load_env_file(sys.argv[1])
with RingCentralClient(ClientSettings.from_env(env)) as client:
    client.get_content(sys.argv[2])
    print(client.stats.logins, client.stats.shared_tokens)
"""


def _env_file(sb, tmp_path: Path, cache: str) -> Path:
    path = tmp_path / "rc.env"
    env = {**sb.env, settings.RC_TOKEN_CACHE: cache}
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return path


def _start_run(env_file: Path, content_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(env_file), content_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> tuple[int, int]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    logins, shared = out.split()
    return int(logins), int(shared)


def _content(sb) -> str:
    return sorted(sb.world.content_ids(sb.world.source_ids[0]))[0]


def test_ten_runs_one_after_another_log_in_once(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=50, sources=1)  # the real Auth limit: 5 / 60 s
    env_file = _env_file(sb, tmp_path, str(tmp_path / "cache"))
    results = [_finish(_start_run(env_file, _content(sb))) for _ in range(10)]
    assert results[0] == (1, 0)
    assert results[1:] == [(0, 1)] * 9
    assert sb.stats.requests(path_prefix=TOKEN_PATH) == 1
    assert sb.stats.requests(path_prefix=REVOKE_PATH) == 0, "a shared token is not revoked"
    assert sb.stats.status_count(429) == 0


def test_runs_that_start_together_wait_for_one_login(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=50, sources=1)
    env_file = _env_file(sb, tmp_path, str(tmp_path / "cache"))
    runs = [_start_run(env_file, _content(sb)) for _ in range(6)]
    results = [_finish(run) for run in runs]
    assert sorted(logins for logins, _ in results) == [0, 0, 0, 0, 0, 1]
    assert sb.stats.requests(path_prefix=TOKEN_PATH) == 1
    assert sb.stats.status_count(429) == 0


def test_the_token_file_is_the_owners_alone_and_names_no_secret(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=50, sources=1)
    cache = tmp_path / "cache"
    _finish(_start_run(_env_file(sb, tmp_path, str(cache)), _content(sb)))
    [token_file] = cache.glob("token-*.json")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for secret in (sb.env[settings.RC_APP_CLIENT_SECRET], sb.env[settings.RC_USER_JWT]):
        assert secret not in token_file.name and secret not in token_file.read_text()
    assert json.loads(token_file.read_text())["access_token"]


def test_off_gives_each_process_its_own_session(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=50, sources=1)
    env_file = _env_file(sb, tmp_path, "off")
    results = [_finish(_start_run(env_file, _content(sb))) for _ in range(2)]
    assert results == [(1, 0), (1, 0)]
    assert sb.stats.requests(path_prefix=TOKEN_PATH) == 2
    assert sb.stats.requests(path_prefix=REVOKE_PATH) == 2


def _settings(sb, cache: Path) -> ClientSettings:
    return ClientSettings.from_env({**sb.env, settings.RC_TOKEN_CACHE: str(cache)})


def test_a_damaged_token_file_costs_one_login(sandbox_factory, tmp_path, caplog):
    sb = sandbox_factory(contents=50, sources=1)
    cache = tmp_path / "cache"
    with RingCentralClient(_settings(sb, cache)) as client:
        client.get_content(_content(sb))
    [token_file] = cache.glob("token-*.json")
    token_file.write_text("{not json")
    with RingCentralClient(_settings(sb, cache)) as client:
        client.get_content(_content(sb))
        assert client.stats.logins == 1
    assert "is not a token file" in caplog.text
    assert json.loads(token_file.read_text())["access_token"]


def test_a_token_the_server_forgot_is_replaced_for_every_process(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=50, sources=1)
    cache = tmp_path / "cache"
    with RingCentralClient(_settings(sb, cache)) as first:
        first.get_content(_content(sb))
    sb.faults.expire_tokens_now()
    with RingCentralClient(_settings(sb, cache)) as second:
        second.get_content(_content(sb))  # the shared token is refused: one login again
        assert second.stats.relogins_after_401 == 1
    with RingCentralClient(_settings(sb, cache)) as third:
        third.get_content(_content(sb))
        assert (third.stats.logins, third.stats.shared_tokens) == (0, 1)
    assert sb.stats.requests(path_prefix=TOKEN_PATH) == 2


def test_an_unwritable_cache_falls_back_to_logging_in(sandbox_factory, tmp_path, caplog):
    sb = sandbox_factory(contents=50, sources=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with RingCentralClient(_settings(sb, blocker / "cache")) as client:
        client.get_content(_content(sb))
        assert client.stats.logins == 1
    assert "unusable" in caplog.text
    assert sb.stats.requests(path_prefix=REVOKE_PATH) == 1, "its own session is revoked"


def test_the_default_directory_is_the_users_cache(tmp_path):
    credentials = {
        settings.RC_APP_CLIENT_ID: "app",
        settings.RC_APP_CLIENT_SECRET: "secret",
        settings.RC_USER_JWT: "a.b.c",
    }
    config = ClientSettings.from_env({**credentials, "XDG_CACHE_HOME": str(tmp_path)})
    assert config.token_cache == str(tmp_path / "rc-archive")
    assert ClientSettings.from_env(credentials).token_cache == str(
        Path.home() / ".cache" / "rc-archive"
    )
    token_file = TokenFile(config.token_cache, server="s", client_id="app", secret="secret")
    assert "secret" not in repr(token_file)
