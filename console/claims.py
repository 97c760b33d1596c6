"""Who is working on which flag: a reviewer claims a flag so two reviewers do not decide it at
once.

Why in memory: a claim is a courtesy between reviewers, not a record. What the archive keeps is
the access event of the claim (who, when, which flag) and, in the end, the decision itself
(write-once, in `_reviews/`). A claim lapses after CLAIM_SECONDS, when its reviewer decides
the flag, or when the console restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLAIM_SECONDS = 60 * 60.0


@dataclass(frozen=True)
class Claim:
    user: str
    at: float


@dataclass
class Claims:
    clock: Callable[[], float] = time.time
    _claims: dict[str, Claim] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def holder(self, flag_id: str) -> Claim | None:
        """The live claim on `flag_id`, if any."""
        with self._lock:
            claim = self._claims.get(flag_id)
            if claim is not None and self.clock() - claim.at > CLAIM_SECONDS:
                del self._claims[flag_id]
                return None
            return claim

    def held_by_other(self, flag_id: str, user: str) -> Claim | None:
        claim = self.holder(flag_id)
        return claim if claim is not None and claim.user != user else None

    def claim(self, flag_id: str, user: str) -> None:
        with self._lock:
            self._claims[flag_id] = Claim(user, self.clock())

    def release(self, flag_id: str) -> None:
        with self._lock:
            self._claims.pop(flag_id, None)

    def all(self) -> dict[str, Claim]:
        """The live claims, by flag."""
        now = self.clock()
        with self._lock:
            return {f: c for f, c in self._claims.items() if now - c.at <= CLAIM_SECONDS}
