"""RFC 9162 tree hashing and proofs against the recursive definitions, for every small size."""

from __future__ import annotations

import hashlib

import pytest

from pipelines.archive import merkle


def _mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_domain_separation():
    assert merkle.leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert merkle.node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()


def test_roots_and_proofs_for_every_size_up_to_33():
    for n in range(34):
        leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(n)]
        root = merkle.root(leaves)
        assert root == _mth(leaves)
        for i in range(n):
            path = merkle.inclusion_proof(leaves, i)
            assert merkle.verify_inclusion(leaves[i], i, n, path, root)
            assert not merkle.verify_inclusion(merkle.leaf_hash(b"x"), i, n, path, root)
            if n > 1:
                assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, path, root)
        for m in range(n + 1):
            proof = merkle.consistency_proof(leaves, m)
            old = _mth(leaves[:m])
            assert merkle.verify_consistency(m, n, old, root, proof), (m, n)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"x"), root, proof)
                changed = leaves[: m - 1] + [merkle.leaf_hash(b"x")] + leaves[m - 1 :]
                assert not merkle.verify_consistency(m, n, old, _mth(changed[:n]), proof)


def test_the_hashed_tree_gives_the_same_roots_and_proofs_as_the_leaves():
    """MerkleTree (hashed once, O(log n) a proof) against the recursive definition, for every
    size up to 70 and every prefix of a larger list (the certified tree of a grown log)."""
    for n in range(71):
        leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(n + 5)]
        tree = merkle.MerkleTree(leaves, n)
        assert tree.root() == _mth(leaves[:n])
        for i in range(n):
            assert tree.inclusion_proof(i) == merkle.inclusion_proof(leaves, i, n)
        for m in range(n + 1):
            assert tree.consistency_proof(m) == merkle.consistency_proof(leaves, m, n)
    with pytest.raises(ValueError):
        merkle.MerkleTree(leaves, n).inclusion_proof(n)
