"""Attachment profiles: one seed gives the same messages under every profile; only how many of
them list files, and how large the files are, changes. A 1M-message benchmark needs `none` or
`light` to fit a disk; compliance tests keep `realistic`."""

from __future__ import annotations

import httpx
import pytest

from sandbox import files
from sandbox.__main__ import _parser
from sandbox.config import SandboxConfig
from sandbox.world import World

ACCOUNT = {"seed": 11, "sources": 4, "contents": 8000, "now_ms": 1_780_000_000_000}


def _world(profile: str) -> World:
    return World(SandboxConfig(**ACCOUNT, attachments=profile))


def _listed(world: World) -> dict[str, list[dict]]:
    return {c["id"]: c.get("attachments") or [] for c in world.all_contents()}


def test_profiles_change_only_the_files():
    by_profile = {profile: _listed(_world(profile)) for profile in files.PROFILES}
    ids = {profile: set(listed) for profile, listed in by_profile.items()}
    assert ids["none"] == ids["light"] == ids["realistic"]

    realistic = {cid for cid, atts in by_profile["realistic"].items() if atts}
    light = {cid for cid, atts in by_profile["light"].items() if atts}
    assert not any(by_profile["none"].values())
    assert light and light < realistic, "light lists files on a subset of realistic's messages"
    assert len(light) * 4 < len(realistic)

    sizes = [a["size"] for atts in by_profile["light"].values() for a in atts]
    assert max(sizes) <= files.PROFILES["light"].max_bytes
    realistic_sizes = [a["size"] for atts in by_profile["realistic"].values() for a in atts]
    assert max(realistic_sizes) > 5 << 20, "realistic keeps the corpus's 5 MiB videos"
    kinds = {a["contentType"] for atts in by_profile["light"].values() for a in atts}
    assert {"image/jpeg", "application/pdf", "video/mp4"} <= kinds


def test_a_light_file_downloads_with_its_listed_size(sandbox_factory):
    sb = sandbox_factory(sources=2, contents=3000, attachments="light")
    attachment = next(a for c in sb.world.all_contents() for a in c.get("attachments") or [])
    response = httpx.get(attachment["uri"], timeout=10.0)
    assert response.status_code == 200
    assert len(response.content) == attachment["size"]
    assert response.headers["content-type"].startswith(attachment["contentType"])


def test_an_explicit_file_is_kept_under_none(sandbox_factory):
    sb = sandbox_factory(sources=1, contents=50, attachments="none")
    content_id = sb.world.add_content(sb.world.source_ids[0], with_attachments=True)
    [content] = [c for c in sb.world.all_contents() if c["id"] == content_id]
    assert content["attachments"]


def test_the_command_line_and_config_refuse_an_unknown_profile(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--attachments", "heavy"])
    assert "invalid choice: 'heavy'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="use one of none, light, realistic"):
        SandboxConfig(attachments="heavy")  # type: ignore[arg-type]
    assert _parser().parse_args(["serve", "--attachments", "light"]).attachments == "light"
