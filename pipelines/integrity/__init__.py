"""Integrity beyond the archive's own word: a witness, a Merkle log of record versions,
signed certificates and per-message proofs (docs/integrity.md)."""
