"""Signed notes (pipelines/integrity/signed_note.py) against published vectors.

- Go's reference implementation, golang.org/x/mod/sumdb/note (its tests and examples): the
  PeterNeumann signer and verifier keys and the note they sign, the EnochRoot key and its
  signature of the same text, the manglings of a key that must not parse, the malformed notes
  that must be refused.
- c2sp.org/signed-note: the example verifier key `example.com/foo` and the note it verifies.

Ed25519 signatures are deterministic, so signing the same text with the published signer key
must give the published note byte for byte: that proves the key ID, the signed bytes and the
line format at once.
"""

from __future__ import annotations

import base64
import hashlib
import stat

import pytest

from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    ED25519,
    InvalidSignatureError,
    KeyFormatError,
    NoteError,
    NoteSignature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    add_signatures,
    generate_signer,
    key_id,
    open_note,
    parse_signer_key,
    parse_vkey,
    read_signer_key,
    read_verifier_key,
    sign_note,
    signer_from_ed25519,
    split_note,
    verifier_from_ed25519,
    write_key_pair,
)

# golang.org/x/mod/sumdb/note: note_test.go and example_test.go
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLo"
    "x33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note, "Verifier keys", example
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH"
    "3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


# -- keys --------------------------------------------------------------------------------------


def test_go_signer_and_verifier_keys_parse_and_match():
    signer = parse_signer_key(PETER_SKEY)
    verifier = parse_vkey(PETER_VKEY)
    assert (signer.name, signer.sig_type, signer.key_id) == ("PeterNeumann", ED25519, 0xC74F20A3)
    assert signer.verifier() == verifier
    assert verifier.vkey() == PETER_VKEY
    assert signer.signer_key() == PETER_SKEY


def test_key_id_is_the_spec_hash_computed_independently():
    verifier = parse_vkey(C2SP_VKEY)
    raw = base64.b64decode(C2SP_VKEY.split("+")[2])
    expected = hashlib.sha256(b"example.com/foo\n" + raw).digest()[:4]
    assert verifier.key_id == int.from_bytes(expected, "big") == 0x530D903A
    assert key_id("example.com/foo", ED25519, raw[1:]) == 0x530D903A
    assert verifier.public_key == bytes.fromhex(
        "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    )


def _manglings(key: str):
    """Every proper substring and every one-character increment (Go's TestNewVerifier)."""
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                yield key[i:j]
    for i in range(len(key)):
        yield key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]


def test_no_mangling_of_a_verifier_key_parses():
    accepted = []
    for mangled in _manglings(PETER_VKEY):
        try:
            parse_vkey(mangled)
        except KeyFormatError:
            continue
        accepted.append(mangled)
    assert accepted == []


def test_no_mangling_of_a_signer_key_parses():
    accepted = []
    for mangled in _manglings(PETER_SKEY):
        try:
            parse_signer_key(mangled)
        except KeyFormatError:
            continue
        accepted.append(mangled)
    assert accepted == []


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # Go's: a key of the wrong length, and an unknown algorithm, each with its key ID
        # adjusted so only the material is wrong
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "32 bytes",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not supported"),
        ("bananas.sigstore.dev+12344556", "3 fields"),
        ("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", "not base64"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not valid"),
        ("PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ],
)
def test_a_bad_verifier_key_is_refused_with_its_reason(vkey, reason):
    with pytest.raises(KeyFormatError, match=reason) as refused:
        parse_vkey(vkey)
    assert "\n" not in str(refused.value)


def test_a_bad_signer_key_never_quotes_the_secret():
    seed_b64 = PETER_SKEY.rsplit("+", 1)[1]
    for mangled in (PETER_SKEY.replace("c74f20a3", "c74f20a4"), PETER_SKEY[:-1]):
        with pytest.raises(KeyFormatError) as refused:
            parse_signer_key(mangled)
        assert seed_b64[:12] not in str(refused.value)
    assert seed_b64[:12] not in repr(parse_signer_key(PETER_SKEY))


def test_keys_of_the_cryptography_package_give_the_same_signer_and_verifier():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = parse_signer_key(PETER_SKEY)
    private = Ed25519PrivateKey.from_private_bytes(signer.seed)
    assert signer_from_ed25519("PeterNeumann", private) == signer
    assert verifier_from_ed25519("PeterNeumann", private.public_key()) == parse_vkey(PETER_VKEY)
    cosigner = signer_from_ed25519("w", private, sig_type=COSIGNATURE_V1)
    assert cosigner.key_id == key_id("w", COSIGNATURE_V1, signer.public_key) != signer.key_id


def test_key_files_round_trip_private_and_never_overwritten(tmp_path):
    signer = generate_signer("witness.example/w1", COSIGNATURE_V1)
    private_path, public_path = write_key_pair(tmp_path / "keys" / "w1.key", signer)
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert public_path.name == "w1.key.vkey"
    assert read_signer_key(private_path) == signer
    assert read_verifier_key(str(public_path)) == signer.verifier()
    assert read_verifier_key(signer.verifier().vkey()) == signer.verifier()
    with pytest.raises(FileExistsError):
        write_key_pair(private_path, signer)
    public_path.write_text("not a key\n")
    with pytest.raises(KeyFormatError, match="w1.key.vkey"):
        read_verifier_key(str(public_path))
    with pytest.raises(KeyFormatError, match="cannot be read"):
        read_signer_key(tmp_path / "missing.key")


# -- notes -------------------------------------------------------------------------------------


def test_signing_the_go_text_gives_the_go_note_byte_for_byte():
    assert sign_note(TEXT, [parse_signer_key(PETER_SKEY)]) == TEXT + "\n" + PETER_SIG


def test_the_go_note_opens_with_its_key():
    opened = open_note(TEXT + "\n" + PETER_SIG, [parse_vkey(PETER_VKEY)])
    assert opened.text == TEXT
    assert [(s.name, s.key_id) for s in opened.signatures] == [("PeterNeumann", 0xC74F20A3)]
    assert opened.verifiers == (parse_vkey(PETER_VKEY),)


def test_the_c2sp_example_note_opens_with_the_c2sp_example_key():
    opened = open_note(C2SP_NOTE, [parse_vkey(C2SP_VKEY)])
    assert opened.text == "This is an example message.\n"
    assert opened.note() == C2SP_NOTE


def test_signatures_of_unknown_keys_are_kept_and_ignored():
    peter, enoch = parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = open_note(note, [peter])
    assert opened.verifiers == (peter,)
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    both = open_note(note, [peter, enoch])
    assert both.verifiers == (peter, enoch) and both.unverified == ()
    assert both.note() == note


def test_a_note_no_known_key_signed_is_refused():
    with pytest.raises(UnverifiedNoteError, match="PeterNeumann\\+c74f20a3"):
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    # the same name with another key (another key ID) is another key
    other = generate_signer("PeterNeumann").verifier()
    with pytest.raises(UnverifiedNoteError):
        open_note(TEXT + "\n" + PETER_SIG, [other])


def test_a_known_keys_signature_that_fails_rejects_the_whole_note():
    peter, enoch = parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)
    altered = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError, match="PeterNeumann\\+c74f20a3"):
        open_note(altered, [peter])
    # the text altered after signing
    with pytest.raises(InvalidSignatureError):
        open_note(TEXT.replace("answer", "Answer") + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])


def test_repeated_signatures_count_once():
    peter = parse_vkey(PETER_VKEY)
    enoch_bad = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_bad
    opened = open_note(note, [peter])
    assert len(opened.verified) == 1
    assert len(opened.unverified) == 2  # Enoch's signature and its altered copy, once each


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
        "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        TEXT + "\n" + "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
        "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + "\u2014 PeterNeumann x08go\n",
        TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",
    ],
)
def test_a_malformed_note_is_refused_with_one_line(note):
    with pytest.raises(NoteError) as refused:
        open_note(note, [parse_vkey(PETER_VKEY)])
    assert "malformed note" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_note_that_is_not_utf8_is_refused():
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), [parse_vkey(PETER_VKEY)])
    assert open_note((TEXT + "\n" + PETER_SIG).encode(), [parse_vkey(PETER_VKEY)]).text == TEXT


def test_the_text_may_hold_blank_lines_the_last_one_separates_the_signatures():
    signer = generate_signer("example.com/a")
    text = "one\n\ntwo\n"
    note = sign_note(text, [signer])
    assert split_note(note)[0] == text
    assert open_note(note, [signer.verifier()]).text == text


def test_sign_note_refuses_text_without_final_newline_or_with_control_characters():
    signer = generate_signer("example.com/a")
    with pytest.raises(NoteError):
        sign_note("no newline", [signer])
    with pytest.raises(NoteError):
        sign_note("tab\there\n", [signer])


def test_a_cosignature_type_key_signs_with_its_timestamp_and_verifies():
    cosigner = generate_signer("witness.example/w1", COSIGNATURE_V1)
    note = sign_note("example.com/log\n1\n" + "A" * 43 + "=\n", [cosigner], timestamp=1234)
    opened = open_note(note, [cosigner.verifier()])
    assert opened.verified[0].timestamp == 1234
    # the same key as a plain Ed25519 key is another key ID: it does not recognise the line
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [cosigner.verifier().retyped(ED25519)])


def test_add_signatures_appends_each_line_once():
    a, b = generate_signer("a.example/k"), generate_signer("b.example/k")
    note_a = sign_note("hello\n", [a])
    line_b = sign_note("hello\n", [b]).split("\n\n")[1].strip()
    merged = add_signatures(note_a, [line_b, line_b + "\n"])
    assert merged == sign_note("hello\n", [a, b])
    assert open_note(merged, [a.verifier(), b.verifier()]).verifiers == (
        a.verifier(),
        b.verifier(),
    )
    with pytest.raises(NoteError):
        add_signatures(note_a, ["not a signature line"])


def test_signature_line_and_signature_round_trip():
    sig = NoteSignature("n.example/x", 0x01020304, bytes(64))
    assert (
        sig.line()
        == "\u2014 n.example/x " + base64.b64encode(b"\x01\x02\x03\x04" + bytes(64)).decode()
    )
    assert sig.timestamp is None


def test_constructors_refuse_bad_names_and_key_sizes():
    with pytest.raises(KeyFormatError):
        Verifier("a+b", ED25519, bytes(32))
    with pytest.raises(KeyFormatError):
        Verifier("a", ED25519, bytes(31))
    with pytest.raises(KeyFormatError):
        Signer("a\u00a0b", ED25519, bytes(32))  # a Unicode space
    with pytest.raises(KeyFormatError):
        Signer("a", 0x02, bytes(32))
