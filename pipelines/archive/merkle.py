"""Merkle tree hashing, inclusion and consistency proofs as RFC 9162 §2.1 defines them.

Domain separation: a leaf hashes as SHA-256(0x00 || leaf bytes), an interior node as
SHA-256(0x01 || left || right); the tree of n leaves splits at k, the largest power of two
smaller than n (MTH). The empty tree's hash is SHA-256 of nothing.

Functions take *leaf hashes* (already `leaf_hash`ed, 32 bytes each), so a caller hashes a
source's leaves once and asks for roots and proofs of any prefix. Pure Python, no archive
access: `pipelines/integrity/log.py` reads the leaves from the archive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The perfect subtrees of a growing log, left to right (sizes decreasing): O(log n)
    hashes that are enough to append leaves and to compute the root (RFC 9162's left-balanced
    tree is these subtrees folded right to left)."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        size, value = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            left_size, left = self.stack.pop()
            size, value = left_size + size, node_hash(left, value)
        self.stack.append((size, value))
        self.size += 1

    def extend_record_hashes(self, hex_digests: Iterable[str]) -> None:
        """Leaves of record versions: each `record_sha256` as its 32 raw bytes."""
        for digest in hex_digests:
            self.append(leaf_hash(bytes.fromhex(digest)))

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            value = node_hash(left, value)
        return value


def root(leaves: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes in one pass, in O(log n) memory."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


Subtree = Callable[[int, int], bytes]  # MTH(D[lo:hi]) of some leaves


class MerkleTree:
    """Every perfect subtree of the first `size` leaves, level by level (32 bytes a node, about
    twice the leaves in all: 64 MB for a million versions).

    Why: `inclusion_proof(leaves, ...)` recomputes the subtrees a path needs from the leaves,
    O(n) hashing per proof; an export proves every version it produces, so it hashes the tree
    once here and then answers each proof with O(log n) lookups (a subtree that is not perfect,
    at the right edge, is split into perfect ones as MTH splits it)."""

    def __init__(self, leaves: Sequence[bytes], size: int | None = None) -> None:
        self.size = len(leaves) if size is None else size
        if not 0 <= self.size <= len(leaves):
            raise ValueError(f"a tree of {self.size} leaves from {len(leaves)}")
        level = bytearray()
        for index in range(self.size):
            level += leaves[index]
        self.levels = [bytes(level)]
        while len(level) >= 64:
            below, level = level, bytearray()
            for offset in range(0, len(below) - 63, 64):
                level += node_hash(below[offset : offset + 32], below[offset + 32 : offset + 64])
            self.levels.append(bytes(level))

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for lo <= hi <= size."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            at = (lo >> level) * 32
            return self.levels[level][at : at + 32]
        k = _split(n)
        return node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self) -> bytes:
        return self.subtree(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return _inclusion_path(self.subtree, index, self.size)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        if not 0 <= old_size <= self.size:
            raise ValueError(f"no consistency proof from {old_size} to {self.size} leaves")
        if old_size in (0, self.size):
            return []
        return _subproof(self.subtree, old_size, 0, self.size, True)


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1) for leaf `index` in the tree of the first `size`
    leaves (all by default)."""
    size = len(leaves) if size is None else size
    if size > len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _inclusion_path(lambda lo, hi: _mth(leaves, lo, hi), index, size)


def _inclusion_path(subtree: Subtree, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()  # the RFC lists the path from the leaf up
    return path


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `leaf` (a leaf hash) sit at `index` of the tree `expected_root`
    of `size` leaves?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int | None = None) -> list:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the tree of the first `old_size` leaves is a prefix
    of the tree of the first `new_size` (all by default)."""
    new_size = len(leaves) if new_size is None else new_size
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size == 0 or old_size == new_size:
        return []
    return _subproof(lambda lo, hi: _mth(leaves, lo, hi), old_size, 0, new_size, True)


def _subproof(subtree: Subtree, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if complete else [subtree(lo, hi)]
    k = _split(n)
    if m <= k:
        return _subproof(subtree, m, lo, lo + k, complete) + [subtree(lo + k, hi)]
    return _subproof(subtree, m - k, lo + k, hi, False) + [subtree(lo, lo + k)]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (`old_size`, `old_root`) a prefix of (`new_size`,
    `new_root`)?"""
    if old_size > new_size or old_size < 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    proof = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the path
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
