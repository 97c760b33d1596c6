"""24-hex object ids derived from (seed, kind, index), and back.

RingCentral's social-messaging ids are MongoDB ObjectIds (§1 of the API notes). Deriving them
from the index means the sandbox needs no id->row dictionary for a million contents, and their
string order equals index order, so "ties broken by id" is simply "ties broken by index".
"""

from __future__ import annotations

import re
import zlib

CONTENT = 1
IDENTITY = 2
THREAD = 3
SOURCE = 4
IDENTITY_GROUP = 5
INTERVENTION = 6
ATTACHMENT = 7
CATEGORY = 8

_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_MAX_INDEX = 0xFFFFFFFF


def is_object_id(value: str) -> bool:
    """True when value has the shape of an ObjectId (what RingCentral checks before EDI-032)."""
    return isinstance(value, str) and bool(_HEX24.match(value))


class IdCodec:
    """Encodes indexes of one world (one seed) as ObjectId-looking strings."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        # First 8 hex look like a 2024 creation timestamp, as in real ids; the next 8 hex
        # carry the seed and kind so two worlds never share ids.
        self._prefix = {
            kind: f"{0x65C3F000 + kind * 0x1111:08x}"
            f"{zlib.crc32(f'{seed}:{kind}'.encode()) & 0xFFFFFFFF:08x}"
            for kind in range(1, 9)
        }

    def encode(self, kind: int, index: int) -> str:
        return self._prefix[kind] + f"{index:08x}"

    def decode(self, kind: int, object_id: str) -> int | None:
        """Index of object_id in this world, or None if it is not one of ours."""
        if not is_object_id(object_id) or not object_id.startswith(self._prefix[kind]):
            return None
        index = int(object_id[16:], 16)
        return index if index <= _MAX_INDEX else None

    def prefix(self, kind: int) -> str:
        return self._prefix[kind]
