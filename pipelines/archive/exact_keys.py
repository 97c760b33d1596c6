"""An exact set of short strings (ids, SHA-256 hex digests) that costs ~width bytes a key.

Why: the version check holds every (id, record hash) a stream has committed. As Python
strings in a set that was ~250 bytes a version: 250 MB for a channel with a million message
versions, more than the rest of a run together. Here committed keys live in one sorted NumPy
array of fixed-width bytes (64 bytes a digest, 32 an id) and are looked up a page at a time
with one binary search; keys added during the run go to a small Python set that is folded into
the array now and then. Membership is exact: no hashing, no false positives, because a key
that does not fit the width unambiguously (longer, or holding a NUL byte, which NumPy uses as
padding) stays in the Python set instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Key widths of the version check: a SHA-256 in hex, and an id (RingCentral ids are 24 hex
# characters, extension ids shorter; a longer id still works, held outside the array).
DIGEST_WIDTH = 64
ID_WIDTH = 32
# Keys added since the last fold; folding copies the whole array, so not too often.
FOLD_EVERY = 50_000


class KeySet:
    """Exact membership for byte-string keys; lookups are per page, not per key."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._sorted = np.empty(0, dtype=f"S{width}")
        self._pending: list[np.ndarray] = []  # loaded parts, sorted into the array on first use
        self._loose: set[bytes] = set()  # added since the last fold, or unfit for the array

    def extend_arrow(self, column: pa.Array | pa.ChunkedArray) -> None:
        """Add the non-null values of a string column (a committed file's, one at a time)."""
        values = pc.drop_null(column)
        if len(values) == 0:
            return
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.string())  # e.g. dictionary-encoded
        fits = pc.and_(
            pc.less_equal(pc.binary_length(values), self.width),
            pc.invert(pc.match_substring(values, "\x00")),
        )
        for unfit in pc.filter(values, pc.invert(fits)).to_pylist():
            self._loose.add(key_of(unfit))
        self._pending.append(_fixed_width(pc.filter(values, fits), self.width))

    def __len__(self) -> int:
        self._settle()
        fit = [k for k in self._loose if self._fits(k)]
        repeated = int(self._in_array(np.array(fit, f"S{self.width}")).sum()) if fit else 0
        return len(self._sorted) + len(self._loose) - repeated  # distinct keys

    def contains(self, keys: Sequence[bytes]) -> list[bool]:
        """For each key, whether the set holds it (a page of keys in one binary search)."""
        if not keys:
            return []
        self._settle()
        if not len(self._sorted):
            found = [False] * len(keys)
        elif max(map(len, keys)) <= self.width and b"\x00" not in b"".join(keys):
            found = self._in_array(np.array(keys, f"S{self.width}")).tolist()
        else:  # some keys cannot be in the array: look up only those that can
            fit = [index for index, key in enumerate(keys) if self._fits(key)]
            hits = self._in_array(np.array([keys[i] for i in fit], f"S{self.width}"))
            found = [False] * len(keys)
            for index, hit in zip(fit, hits.tolist(), strict=True):
                found[index] = hit
        if self._loose:
            loose = self._loose
            found = [hit or key in loose for hit, key in zip(found, keys, strict=True)]
        return found

    def add(self, keys: Iterable[bytes]) -> None:
        """Add a page of keys (callers check `contains` for the page first)."""
        self._settle()
        self._loose.update(keys)
        if len(self._loose) >= FOLD_EVERY:
            self._fold()

    def update(self, other: KeySet) -> None:
        """Add every key of another set of the same width."""
        if other.width != self.width:
            raise ValueError(f"width {other.width} != {self.width}")
        self._settle()
        other._settle()
        self._sorted = np.union1d(self._sorted, other._sorted)
        self._loose |= other._loose

    def _settle(self) -> None:
        """Sort the loaded parts into the array once (a sort in place, then drop repeats)."""
        if self._pending:
            merged = np.concatenate([self._sorted, *self._pending])
            self._pending = []
            merged.sort()
            if len(merged) > 1:
                merged = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
            self._sorted = merged

    def _fits(self, key: bytes) -> bool:
        return len(key) <= self.width and b"\x00" not in key

    def _fold(self) -> None:
        """Move the loose keys that fit into the array: a merge, not a sort of everything."""
        fit = [k for k in self._loose if self._fits(k)]
        if not fit:
            return
        added = np.unique(np.array(fit, dtype=f"S{self.width}"))
        added = added[~self._in_array(added)]
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, added), added)
        self._loose.difference_update(fit)

    def _in_array(self, candidates: np.ndarray) -> np.ndarray:
        """Per candidate (same dtype as the array): whether the sorted array holds it."""
        at = np.searchsorted(self._sorted, candidates)
        hit = np.zeros(len(candidates), dtype=bool)
        inside = at < len(self._sorted)
        hit[inside] = self._sorted[at[inside]] == candidates[inside]
        return hit


def _fixed_width(values: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray:
    """Arrow strings that fit `width` as NumPy fixed-width bytes.

    When every value has the same length (hex digests, RingCentral ids) the Arrow data buffer
    is viewed as fixed-width values directly, without a Python object per value.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0:
        return np.empty(0, f"S{width}")
    lengths = pc.min_max(pc.binary_length(values))
    size = lengths["min"].as_py()
    if size == lengths["max"].as_py() and size > 0:
        offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
        offsets = np.frombuffer(values.buffers()[1], offset_type)
        start = int(offsets[values.offset])
        data = np.frombuffer(values.buffers()[2], np.uint8)[start : start + size * len(values)]
        return data.view(f"S{size}").astype(f"S{width}")
    return np.asarray(values.cast(pa.binary()).to_numpy(zero_copy_only=False), f"S{width}")


def key_of(text: str) -> bytes:
    """A key's bytes; lone surrogates (which no API id should hold) still map one to one."""
    return text.encode("utf-8", "surrogatepass")
