"""A proof for one message: its record versions and their inclusion in a certified tree.

`prove` reads the source's log from the archive (every committed contents file: see
pipelines/integrity/log.py), checks that its first `tree_size` leaves still hash to the
certificate's root, and returns a JSON document with, for each version of the content within
the certified tree, its `record_sha256`, leaf index and RFC 9162 inclusion path. The signed
certificate travels inside it, so `docs/verify_proof.py` (standard library only) can check the
whole chain without the archive: signature (with the public key the checker trusts) -> root ->
each version's hash.
"""

from __future__ import annotations

from typing import Any

from pipelines.archive import merkle
from pipelines.archive.ledger import Ledger
from pipelines.integrity.certificate import (
    CertificateRefused,
    check_archive_matches,
    check_signature,
)
from pipelines.integrity.log import read_log

PROOF_FORMAT = "rc-archive/proof/1"


class ProofError(ValueError):
    """No proof can be given: the content is not in the certified tree, or the archive no
    longer matches the certificate."""


def prove(
    ledger: Ledger, content_id: str, signed: dict[str, Any], public_key=None
) -> dict[str, Any]:
    """The proof document for `content_id` against the certificate `signed` (its signature is
    checked first when `public_key` is given)."""
    if public_key is not None:
        body = check_signature(signed, public_key)
    else:
        body = signed.get("certificate") if isinstance(signed, dict) else None
        if not isinstance(body, dict) or "merkle" not in body:
            raise CertificateRefused("not an rc-archive certificate", tampering=False)
    check_archive_matches(body, ledger)
    size = int(body["merkle"]["tree_size"])
    certified_root = bytes.fromhex(body["merkle"]["root"])
    log = read_log(ledger, body["source_id"], content_id=content_id)
    if log.problems:
        key, problem = log.problems[0]
        raise ProofError(f"{key}: {problem}; run `rc-archive verify --certificate`")
    if log.size < size or log.root(size) != certified_root:
        raise ProofError(
            "the archive's record versions no longer match the certified root; run "
            "`rc-archive verify --certificate` to see what changed"
        )
    versions = [
        {
            "leaf_index": index,
            "record_sha256": digest,
            "last_modified_time": modified,
            "inclusion_path": [p.hex() for p in merkle.inclusion_proof(log.leaves, index, size)],
        }
        for index, digest, modified in log.matches
        if index < size
    ]
    if not versions:
        later = sum(1 for index, _, _ in log.matches if index >= size)
        raise ProofError(
            f"content {content_id} has no version in the certified tree of source "
            f"{body['source_id']} ({size} versions)"
            + (f"; {later} version(s) were archived after the certificate" if later else "")
        )
    return {
        "format": PROOF_FORMAT,
        "content_id": content_id,
        "source_id": body["source_id"],
        "tree_size": size,
        "root": body["merkle"]["root"],
        "hashing": "leaf = SHA-256(0x00 || record_sha256 bytes); node = SHA-256(0x01 || l || r)",
        "versions": versions,
        "certificate": signed,
    }
