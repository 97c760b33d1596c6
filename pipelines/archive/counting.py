"""A store that counts what a reader asks of it, for the steady-cost claims.

Why in the library: "a run reads K objects" is a property the tests assert and the aging
benchmark reports, so both measure it the same way. It forwards every call to a real store and
changes nothing; it is not a test double.
"""

from __future__ import annotations

from typing import Any


class CountingStore:
    """Forwards to `store`; records the keys of GETs and counts LISTs of any kind."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.reset()

    def reset(self) -> None:
        self.gets: list[str] = []
        self.lists = 0

    def get(self, key: str) -> bytes:
        self.gets.append(key)
        return self._store.get(key)

    def list(self, prefix: str = ""):
        self.lists += 1
        return self._store.list(prefix)

    def list_after(self, prefix: str, start_after: str | None = None) -> list[str]:
        self.lists += 1
        return self._store.list_after(prefix, start_after)

    def list_folders(self, prefix: str) -> list[str]:
        self.lists += 1
        return self._store.list_folders(prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
