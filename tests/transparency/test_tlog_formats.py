"""Checkpoints, cosignatures and tlog proofs (pipelines/integrity/tlog.py).

Published vectors where they exist:
- a checkpoint of a public CT log (arche2025h1.staging.ct.transparency.dev) with the log's
  Ed25519 signature and a cosignature/v1 by a public witness (remora.n621.de), with both
  verifier keys: real signatures our code did not make;
- the cosignature line of c2sp.org/tlog-cosignature's example (its time is the one the spec's
  signed-message example shows) and one of transparency-dev/formats' tests (time 1727964367);
- c2sp.org/tlog-witness's example request body, c2sp.org/tlog-proof's example header.

Elsewhere the expected bytes come from `_reference_*` below: the specs written out again with
hashlib, base64 and `cryptography` directly, sharing no code with the module under test.
Ed25519 is deterministic, so the same key and message give the same signature bytes.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.archive import merkle
from pipelines.integrity.cosigning_witness import format_add_checkpoint, parse_add_checkpoint
from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    NoteError,
    Signer,
    add_signatures,
    parse_signature_line,
    parse_vkey,
    sign_note,
)
from pipelines.integrity.tlog import (
    Checkpoint,
    CheckpointError,
    CosignatureError,
    QuorumError,
    TlogProof,
    TlogProofError,
    cosign,
    format_tlog_proof,
    parse_checkpoint,
    parse_tlog_proof,
    verify_cosignature,
    verify_tlog_proof,
    verify_witnessed_checkpoint,
)

# A checkpoint of a public log, as its monitoring endpoint served it with its cosignatures.
PUBLIC_CHECKPOINT = (
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    "\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6h"
    "oGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhU"
    "kzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYT"
    "zwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/"
    "iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIob"
    "WX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
    "\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr"
    "+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"
)
PUBLIC_LOG_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
PUBLIC_WITNESS_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

# c2sp.org/tlog-checkpoint and tlog-cosignature: the example checkpoint and its cosignature.
SPEC_CHECKPOINT_NOTE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SPEC_COSIGNATURE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
    "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)

SEED_LOG = bytes(range(32))
SEED_WITNESS = bytes(range(100, 132))


# -- an independent reading of the specs -------------------------------------------------------


def _reference_public(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _reference_key_id(name: str, sig_type: int, seed: bytes) -> bytes:
    return hashlib.sha256(
        name.encode() + b"\x0a" + bytes([sig_type]) + _reference_public(seed)
    ).digest()[:4]


def _reference_note_line(name: str, seed: bytes, text: str) -> str:
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(text.encode())
    blob = _reference_key_id(name, 0x01, seed) + signature
    return "\u2014 " + name + " " + base64.b64encode(blob).decode()


def _reference_cosignature_line(name: str, seed: bytes, body: str, timestamp: int) -> str:
    message = b"cosignature/v1\n" + b"time " + str(timestamp).encode() + b"\n" + body.encode()
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    blob = _reference_key_id(name, 0x04, seed) + timestamp.to_bytes(8, "big") + signature
    return "\u2014 " + name + " " + base64.b64encode(blob).decode()


def _reference_vkey(name: str, sig_type: int, seed: bytes) -> str:
    material = base64.b64encode(bytes([sig_type]) + _reference_public(seed)).decode()
    return f"{name}+{_reference_key_id(name, sig_type, seed).hex()}+{material}"


# -- checkpoints -------------------------------------------------------------------------------


def test_the_spec_checkpoint_parses_and_formats_back():
    body = SPEC_CHECKPOINT_NOTE.split("\n\n")[0] + "\n"
    checkpoint = parse_checkpoint(body)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.text() == body


def test_checkpoint_text_is_the_spec_layout_with_extension_lines():
    root = hashlib.sha256(b"root").digest()
    checkpoint = Checkpoint("example.com/log", 0, root, ("ext one", "ext-two"))
    expected = "example.com/log\n0\n" + base64.b64encode(root).decode() + "\next one\next-two\n"
    assert checkpoint.text() == expected
    assert parse_checkpoint(expected) == checkpoint


@pytest.mark.parametrize(
    "text",
    [
        "example.com/log\n5\n",  # two lines
        "example.com/log\n05\n" + "A" * 43 + "=\n",  # a leading zero
        "example.com/log\n-1\n" + "A" * 43 + "=\n",
        "example.com/log\n5\n" + "A" * 42 + "==\n",  # 31 bytes
        "example.com/log\n5\nnot base64!\n",
        "example.com/log\n5\n" + "A" * 43 + "=\n\nextension after an empty line\n",
        "example.com/log\n5\n" + "A" * 43 + "=",  # no final newline
        "\n5\n" + "A" * 43 + "=\n",  # no origin
        "example.com/log\n18446744073709551616\n" + "A" * 43 + "=\n",  # 2^64
    ],
)
def test_a_malformed_checkpoint_is_refused(text):
    with pytest.raises(CheckpointError) as refused:
        parse_checkpoint(text)
    assert "\n" not in str(refused.value)


def test_a_public_log_checkpoint_and_its_public_witness_cosignature_verify():
    log, witness = parse_vkey(PUBLIC_LOG_VKEY), parse_vkey(PUBLIC_WITNESS_VKEY)
    witnessed = verify_witnessed_checkpoint(PUBLIC_CHECKPOINT, log, [witness], 1)
    assert witnessed.checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
    assert witnessed.checkpoint.size == 1432088532
    assert witnessed.cosigned == ((witness, 0x6A122120),)
    line = next(li for li in PUBLIC_CHECKPOINT.splitlines() if "remora" in li)
    body = PUBLIC_CHECKPOINT.split("\n\n")[0] + "\n"
    assert verify_cosignature(body, line, witness) == 0x6A122120


def test_the_public_checkpoint_altered_does_not_verify():
    log, witness = parse_vkey(PUBLIC_LOG_VKEY), parse_vkey(PUBLIC_WITNESS_VKEY)
    altered = PUBLIC_CHECKPOINT.replace("1432088532", "1432088533", 1)
    with pytest.raises(NoteError, match="invalid signature"):
        verify_witnessed_checkpoint(altered, log, [witness], 1)
    line = next(li for li in PUBLIC_CHECKPOINT.splitlines() if "remora" in li)
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(altered.split("\n\n")[0] + "\n", line, witness)


def test_the_published_cosignature_lines_carry_their_times():
    spec = parse_signature_line(SPEC_COSIGNATURE)
    assert (spec.name, spec.key_id, spec.timestamp) == (
        "witness.example.com/w1",
        0x8D66CF3F,
        1679315147,
    )
    blob = base64.b64decode(
        "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiE"
        "BYJXORmnFBOBA=="
    )
    line = parse_signature_line("\u2014 w " + base64.b64encode(blob).decode())
    assert line.timestamp == 1727964367


# -- cosignatures ------------------------------------------------------------------------------


def test_cosign_gives_the_reference_line_and_verify_gives_back_its_time():
    witness = Signer("witness.example/w1", COSIGNATURE_V1, SEED_WITNESS)
    body = Checkpoint("example.com/log", 10, hashlib.sha256(b"r").digest(), ("x",)).text()
    line = cosign(body, witness, 1700000000)
    assert line == _reference_cosignature_line("witness.example/w1", SEED_WITNESS, body, 1700000000)
    assert witness.verifier().vkey() == _reference_vkey("witness.example/w1", 0x04, SEED_WITNESS)
    assert verify_cosignature(body, line, witness.verifier()) == 1700000000
    assert verify_cosignature(body, line + "\n", witness.verifier()) == 1700000000
    raw = base64.b64decode(line.split(" ")[-1])
    assert verify_cosignature(body, raw, witness.verifier()) == 1700000000
    assert verify_cosignature(body, raw[4:], witness.verifier()) == 1700000000


def test_a_cosignature_covers_the_time_and_every_line_of_the_body():
    witness = Signer("witness.example/w1", COSIGNATURE_V1, SEED_WITNESS)
    body = Checkpoint("example.com/log", 10, hashlib.sha256(b"r").digest(), ("x",)).text()
    raw = bytearray(base64.b64decode(cosign(body, witness, 1700000000).split(" ")[-1]))
    raw[11] ^= 1  # the last byte of the time
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(body, bytes(raw), witness.verifier())
    line = cosign(body, witness, 1700000000)
    with pytest.raises(CosignatureError):
        verify_cosignature(body.replace("\nx\n", "\ny\n"), line, witness.verifier())


def test_a_cosignature_of_another_witness_or_of_a_plain_key_is_refused():
    witness = Signer("witness.example/w1", COSIGNATURE_V1, SEED_WITNESS)
    other = Signer("witness.example/w1", COSIGNATURE_V1, SEED_LOG)
    body = Checkpoint("example.com/log", 1, hashlib.sha256(b"r").digest()).text()
    with pytest.raises(CosignatureError, match="not the witness"):
        verify_cosignature(body, cosign(body, other, 5), witness.verifier())
    with pytest.raises(CosignatureError, match="0x04"):
        cosign(body, Signer("log.example", 0x01, SEED_LOG), 5)


def test_a_note_signed_by_our_signer_is_the_reference_note():
    log = Signer("example.com/log", 0x01, SEED_LOG)
    body = Checkpoint("example.com/log", 3, hashlib.sha256(b"x").digest()).text()
    expected = body + "\n" + _reference_note_line("example.com/log", SEED_LOG, body) + "\n"
    assert sign_note(body, [log]) == expected
    assert log.verifier().vkey() == _reference_vkey("example.com/log", 0x01, SEED_LOG)


# -- the quorum --------------------------------------------------------------------------------


def _witnessed_note(witness_count: int, cosigning: int):
    log = Signer("archive.example/log", 0x01, SEED_LOG)
    witnesses = [
        Signer(f"w{i}.example/w", COSIGNATURE_V1, bytes([i]) * 32) for i in range(witness_count)
    ]
    body = Checkpoint("archive.example/log/src", 4, hashlib.sha256(b"t").digest()).text()
    note = sign_note(body, [log])
    lines = [cosign(body, w, 1000 + i) for i, w in enumerate(witnesses[:cosigning])]
    return add_signatures(note, lines), log.verifier(), [w.verifier() for w in witnesses]


def test_a_quorum_of_witnesses_is_counted_and_named():
    note, log, witnesses = _witnessed_note(3, 2)
    witnessed = verify_witnessed_checkpoint(note, log, witnesses, 2)
    assert witnessed.cosigned == ((witnesses[0], 1000), (witnesses[1], 1001))
    assert witnessed.missing == (witnesses[2],)
    with pytest.raises(QuorumError, match="2 of the 3 witnesses required") as short:
        verify_witnessed_checkpoint(note, log, witnesses, 3)
    assert "missing: w2.example/w" in str(short.value)
    # one witness listed twice is still one witness: a quorum of 2 cannot be met
    with pytest.raises(ValueError, match="quorum 2 is not in 0..1"):
        verify_witnessed_checkpoint(note, log, [witnesses[0], witnesses[0]], 2)


def test_a_quorum_needs_the_log_signature_and_intact_cosignatures():
    note, log, witnesses = _witnessed_note(2, 2)
    stranger = Signer("archive.example/log", 0x01, SEED_WITNESS).verifier()
    with pytest.raises(NoteError):
        verify_witnessed_checkpoint(note, stranger, witnesses, 1)
    text, sigs = note.split("\n\n")
    lines = sigs.splitlines()
    raw = bytearray(base64.b64decode(lines[-1].split(" ")[-1]))
    raw[-1] ^= 1
    lines[-1] = lines[-1].rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(raw)).decode()
    tampered = text + "\n\n" + "\n".join(lines) + "\n"
    with pytest.raises(NoteError, match="invalid signature for key w1.example/w"):
        verify_witnessed_checkpoint(tampered, log, witnesses, 1)
    with pytest.raises(ValueError, match="quorum 3"):
        verify_witnessed_checkpoint(note, log, witnesses, 3)


# -- the witness request body (c2sp.org/tlog-witness example) ----------------------------------


SPEC_WITNESS_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+4"
    "9/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)


def test_the_spec_witness_request_parses_and_formats_back():
    request = parse_add_checkpoint(SPEC_WITNESS_REQUEST.encode())
    assert request.old_size == 20852014
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert len(request.proof) == 4
    assert request.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert format_add_checkpoint(request.old_size, request.proof, request.note) == (
        SPEC_WITNESS_REQUEST.encode()
    )


# -- tlog proofs -------------------------------------------------------------------------------

SPEC_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
)


def test_the_spec_proof_header_parses_and_formats_back():
    text = SPEC_PROOF_HEAD + "\n" + SPEC_CHECKPOINT_NOTE
    proof = parse_tlog_proof(text)
    assert proof.index == 73894
    assert proof.extra == base64.b64decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
    assert proof.path[0] == base64.b64decode("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=")
    assert len(proof.path) == 5
    assert proof.checkpoint_note == SPEC_CHECKPOINT_NOTE
    assert proof.checkpoint.size == 20852163
    assert format_tlog_proof(proof) == text


def _log(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_a_proof_formats_as_the_spec_layout_and_verifies():
    leaves = _log(13)
    log = Signer("archive.example/log", 0x01, SEED_LOG)
    witness = Signer("w.example/w", COSIGNATURE_V1, SEED_WITNESS)
    body = Checkpoint("archive.example/log/src", 13, merkle.root(leaves)).text()
    note = add_signatures(sign_note(body, [log]), [cosign(body, witness, 99)])
    path = merkle.inclusion_proof(leaves, 6)
    proof = TlogProof(6, path, note)
    expected = (
        "c2sp.org/tlog-proof@v1\nindex 6\n"
        + "".join(base64.b64encode(h).decode() + "\n" for h in path)
        + "\n"
        + note
    )
    assert format_tlog_proof(proof) == proof.text() == expected
    assert parse_tlog_proof(expected) == proof
    with_extra = TlogProof(6, path, note, extra=b"\x00extra")
    assert format_tlog_proof(with_extra).startswith(
        "c2sp.org/tlog-proof@v1\nextra AGV4dHJh\nindex 6\n"
    )
    assert parse_tlog_proof(format_tlog_proof(with_extra)) == with_extra
    witnessed = verify_tlog_proof(proof, leaves[6], log.verifier(), [witness.verifier()], 1)
    assert witnessed.cosigned == ((witness.verifier(), 99),)
    with pytest.raises(TlogProofError, match="not proven"):
        verify_tlog_proof(proof, leaves[5], log.verifier(), [witness.verifier()], 1)
    with pytest.raises(QuorumError):
        verify_tlog_proof(proof, leaves[6], log.verifier(), [log.verifier().retyped(4)], 1)


@pytest.mark.parametrize(
    "text",
    [
        "c2sp.org/tlog-proof@v2\nindex 0\n\n" + SPEC_CHECKPOINT_NOTE,
        "c2sp.org/tlog-proof@v1\n\n" + SPEC_CHECKPOINT_NOTE,  # no index
        "c2sp.org/tlog-proof@v1\nindex 01\n\n" + SPEC_CHECKPOINT_NOTE,
        "c2sp.org/tlog-proof@v1\nindex 0\nnot-a-hash\n\n" + SPEC_CHECKPOINT_NOTE,
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n" + SPEC_CHECKPOINT_NOTE,
        "c2sp.org/tlog-proof@v1\nindex 0\nextra AA==\n\n" + SPEC_CHECKPOINT_NOTE,  # order
        "c2sp.org/tlog-proof@v1\nindex 0\n\nexample.com/log\n1\n",  # no note
        "c2sp.org/tlog-proof@v1\nindex 0\n",
    ],
)
def test_a_malformed_proof_is_refused(text):
    with pytest.raises(TlogProofError) as refused:
        parse_tlog_proof(text)
    assert "\n" not in str(refused.value)
