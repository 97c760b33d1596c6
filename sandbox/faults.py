"""Fault injection, per endpoint, changeable at runtime (sb.faults or POST /_sandbox/faults).

An endpoint key is a name ("contents", "content", "identities", "identity", "extension",
"token", "revoke", "subscription", "*") or a path prefix starting with "/". Random faults use
a RNG seeded from the world seed, so a failing test replays the same way.
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

SOURCE_FILTER_PARAMS = ("sourceIds", "source", "channelIds")


@dataclass
class FaultSettings:
    error_5xx_ratio: float = 0.0
    burst_429: int = 0  # the next N requests get 429
    slow_seconds: float = 0.0
    drop_connection_ratio: float = 0.0  # close the socket without any response
    refuse_page_tokens: bool = False  # 422 EDI-034 "Invalid offset" for any pageToken
    ignore_source_filter: str | None = None  # this spelling of the source filter is ignored
    malformed_ratio: float = 0.0  # share of served records that are broken
    # 400 EDI-038 for this orderBy value, like an API generation that does not know it
    # (e.g. "-lastModifiedTime").
    refuse_order_by: str | None = None
    # Attachment downloads (endpoint "attachment" or a path prefix "/files/attachments/<id>"):
    # answer with this status instead of the bytes (e.g. 404, 500), or end the body early,
    # without an error, after a random share of it (a truncated download).
    error_status: int = 0
    truncate_ratio: float = 0.0

    def active(self) -> bool:
        return self != FaultSettings()


_FIELD_NAMES = {f.name for f in fields(FaultSettings)}


class Faults:
    def __init__(
        self,
        seed: int,
        expire_tokens: Callable[[], None] | None = None,
        expire_links: Callable[[], None] | None = None,
    ) -> None:
        self._expire_links = expire_links
        self._seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, FaultSettings] = {}
        self._expire_tokens = expire_tokens

    def set(self, endpoint: str, **settings) -> FaultSettings:
        """Set (merge) fault settings of one endpoint; unknown names raise with the list."""
        unknown = set(settings) - _FIELD_NAMES
        if unknown:
            raise ValueError(
                f"unknown fault setting(s) {sorted(unknown)}; use {sorted(_FIELD_NAMES)}"
            )
        if settings.get("ignore_source_filter") is True:
            settings["ignore_source_filter"] = "sourceIds"
        if settings.get("ignore_source_filter") is False:
            settings["ignore_source_filter"] = None
        if settings.get("ignore_source_filter") not in (None, *SOURCE_FILTER_PARAMS):
            raise ValueError(
                f"ignore_source_filter={settings['ignore_source_filter']!r}: "
                f"use one of {SOURCE_FILTER_PARAMS} or True"
            )
        with self._lock:
            current = self._by_endpoint.get(endpoint, FaultSettings())
            merged = FaultSettings(**{**asdict(current), **settings})
            self._by_endpoint[endpoint] = merged
            return merged

    def clear(self, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._by_endpoint.clear()
            else:
                self._by_endpoint.pop(endpoint, None)

    def expire_tokens_now(self) -> None:
        """Every access token issued so far is expired from now on (401 OAU-128)."""
        if self._expire_tokens is not None:
            self._expire_tokens()

    def expire_links_now(self) -> None:
        """Every attachment link served so far is refused from now on (403 ATT-403); links
        served afterwards work (World.expire_attachment_links)."""
        if self._expire_links is not None:
            self._expire_links()

    def fraction(self) -> float:
        with self._lock:
            return self._rng.random()

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {k: asdict(v) for k, v in self._by_endpoint.items()}

    def _matching(self, name: str, path: str) -> list[tuple[str, FaultSettings]]:
        return [
            (key, settings)
            for key, settings in self._by_endpoint.items()
            if key in ("*", name) or (key.startswith("/") and path.startswith(key))
        ]

    def for_request(self, name: str, path: str) -> FaultSettings:
        """The settings that apply (the first matching key wins per setting)."""
        with self._lock:
            result = FaultSettings()
            for _, settings in self._matching(name, path):
                for f in fields(FaultSettings):
                    value = getattr(settings, f.name)
                    if value and not getattr(result, f.name):
                        setattr(result, f.name, value)
            return result

    def take_burst(self, name: str, path: str) -> bool:
        """Consume one forced 429 if any is pending for this endpoint."""
        with self._lock:
            for key, settings in self._matching(name, path):
                if settings.burst_429 > 0:
                    self._by_endpoint[key] = FaultSettings(
                        **{**asdict(settings), "burst_429": settings.burst_429 - 1}
                    )
                    return True
            return False

    def roll(self, ratio: float) -> bool:
        if ratio <= 0:
            return False
        with self._lock:
            return self._rng.random() < ratio

    def is_malformed(self, row: int, ratio: float) -> bool:
        """Deterministic per (seed, row): the same records are broken on every read."""
        if ratio <= 0:
            return False
        return (zlib.crc32(f"{self._seed}:{row}".encode()) % 10_000) < ratio * 10_000


def break_record(record: dict, row: int) -> dict:
    """One of three realistic corruptions: wrong types, a missing id, an invalid timestamp."""
    broken = dict(record)
    kind = row % 3
    if kind == 0:
        broken["creationTime"] = 1_700_000_000  # number instead of string
        broken["attachments"] = "none"
    elif kind == 1:
        broken.pop("id", None)
    else:
        broken["creationTime"] = "2024-13-45T99:61:00Z"
    return broken
