"""Settings of one sandbox world and server; everything derives from them (and the seed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldMode = Literal["live", "spec2024"]
AttachmentLinks = Literal["rotating", "stable"]
AttachmentProfile = Literal["none", "light", "realistic"]
ATTACHMENT_PROFILES: tuple[str, ...] = ("none", "light", "realistic")


@dataclass
class SandboxConfig:
    """What the local RingCentral account looks like and how strict the server is.

    Defaults are RingCentral's published ones (rate limits of §8 of the API notes, 1 h tokens,
    live field names); tests shrink windows and raise limits to stay fast.
    """

    seed: int = 7
    sources: int = 3  # sources the agent can Read (RC_SOURCE_IDS); one hidden source is added
    contents: int = 2000
    days: float = 90.0
    now_ms: int | None = None  # end of the generated history; None = wall clock at start
    light_limit: int = 50
    medium_limit: int = 40
    heavy_limit: int = 10
    auth_limit: int = 5
    window_seconds: float = 60.0
    penalty_seconds: float = 60.0
    token_ttl_seconds: float = 3600.0
    refresh_ttl_seconds: float = 604800.0
    field_mode: FieldMode = "live"
    quirks: bool = True
    live_rate: float = 0.0  # generated events per second; 0 = no background traffic
    readonly_sources: int = 0  # last N readable sources: Read only (no Reply/Initiate)
    faults: dict[str, dict] = field(default_factory=dict)  # endpoint -> fault settings
    webhook_timeout_seconds: float = 3.0
    # Attachment files (sandbox.files): "rotating" (RingCentral's way) mints a new signed link
    # with its own expiry on every serving of a content; "stable" serves the same link until
    # expire_attachment_links() re-issues them all. A link stays valid this long on the world
    # clock from when it was served (stable: from the start or the last re-issue).
    attachment_links: AttachmentLinks = "rotating"
    attachment_link_ttl_seconds: float = 86400.0
    # How many files the generated history carries (sandbox.files.PROFILES): "realistic" (8 % of
    # messages list one or two files of real-world sizes, ~1.1 GB per 8,000 messages), "light"
    # (the same kinds on 1 % of messages, none over 256 KiB: 1M messages fit a laptop's disk),
    # "none" (contents only). Files added by add_content(with_attachments=True) are always kept.
    attachments: AttachmentProfile = "realistic"
    # Every Nth attachment (by index) made this large (0 = the corpus sizes only).
    large_attachment_bytes: int = 0
    large_attachment_every: int = 0

    def __post_init__(self) -> None:
        if self.field_mode not in ("live", "spec2024"):
            raise ValueError(
                f"SandboxConfig.field_mode={self.field_mode!r}: use 'live' or 'spec2024'"
            )
        if self.attachment_links not in ("rotating", "stable"):
            raise ValueError(
                f"SandboxConfig.attachment_links={self.attachment_links!r}: use 'rotating' or "
                "'stable'"
            )
        if self.attachments not in ATTACHMENT_PROFILES:
            raise ValueError(
                f"SandboxConfig.attachments={self.attachments!r}: use one of "
                + ", ".join(ATTACHMENT_PROFILES)
            )
        if self.attachment_link_ttl_seconds <= 0:
            raise ValueError(
                f"SandboxConfig.attachment_link_ttl_seconds={self.attachment_link_ttl_seconds}: "
                "must be > 0"
            )
        if self.sources < 1:
            raise ValueError(f"SandboxConfig.sources={self.sources}: need at least 1")
        if self.contents < 0:
            raise ValueError(f"SandboxConfig.contents={self.contents}: must be >= 0")
