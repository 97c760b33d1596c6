"""The examiner's verifier (pipelines/integrity/verify_proof.py) on its own: a copy of that one
file, run with `python -I` from an empty folder, against C2SP tlog-proof files and production
folders built here by an independent producer (hashlib, `cryptography` Ed25519, a Merkle tree
written from RFC 9162 §2.1), and its primitives against published vectors (RFC 8032 §7.1, Go's
golang.org/x/mod/sumdb/note tests).

Why independent: the verifier is the examiner's second opinion on the archive's proofs, so it
is checked against data that no code of the archive produced."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pipelines.integrity import verify_proof as vp

SCRIPT = Path(__file__).resolve().parents[2] / "pipelines" / "integrity" / "verify_proof.py"
LOG_NAME = "archive.example/log"
TIMESTAMP = 1_767_225_600
TRANSPORT = ["hasAttachment", "attachments[].uri"]

# -- an independent producer ------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    """An Ed25519 key with a note name, signing checkpoints (type 0x01) or cosigning them
    (type 0x04, c2sp.org/tlog-cosignature)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def key_id(self, key_type: int) -> bytes:
        material = self.name.encode() + b"\n" + bytes([key_type]) + self.public
        return hashlib.sha256(material).digest()[:4]

    def vkey(self, key_type: int = 0x01) -> str:
        return f"{self.name}+{self.key_id(key_type).hex()}+{b64(bytes([key_type]) + self.public)}"

    def signature_line(self, text: str) -> str:
        signature = self.private.sign(text.encode())
        return f"\u2014 {self.name} {b64(self.key_id(0x01) + signature)}\n"

    def cosignature_line(self, text: str, timestamp: int = TIMESTAMP) -> str:
        signed = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
        blob = self.key_id(0x04) + timestamp.to_bytes(8, "big") + self.private.sign(signed)
        return f"\u2014 {self.name} {b64(blob)}\n"


def leaf(record_sha256: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(record_sha256)).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def inclusion_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]): the leaf's sibling first, the root's child last."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return inclusion_path(index, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(index - k, leaves[k:]) + [mth(leaves[:k])]


def checkpoint(origin: str, leaves: list[bytes], log: Signer, witnesses: list[Signer]) -> str:
    text = f"{origin}\n{len(leaves)}\n{b64(mth(leaves))}\n"
    return (
        text
        + "\n"
        + log.signature_line(text)
        + "".join(w.cosignature_line(text) for w in witnesses)
    )


def tlog_proof(index: int, leaves: list[bytes], note: str) -> str:
    path = "".join(f"{b64(h)}\n" for h in inclusion_path(index, leaves))
    return f"c2sp.org/tlog-proof@v1\nindex {index}\n{path}\n{note}"


def identity_sha256(record: dict) -> str:
    """The archive's version identity, written again here: without `hasAttachment`, and
    without each attachment's `uri`."""
    kept = {k: v for k, v in record.items() if k != "hasAttachment"}
    if "attachments" in kept:
        kept["attachments"] = [
            {k: v for k, v in a.items() if k != "uri"} for a in kept["attachments"]
        ]
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def message(source: str, i: int) -> dict:
    record = {
        "id": f"{source}-{i:06d}",
        "subject": f"Nachricht {i} über das Angebot",
        "direction": "Inbound" if i % 2 else "Outbound",
        "creationTime": f"2026-01-{1 + i % 28:02d}T10:00:00.000Z",
    }
    if i % 3 == 0:
        record["attachments"] = [
            {"id": f"a{i}", "type": "Binary", "uri": f"https://media.example/{i}?sig=abc{i}"}
        ]
        record["hasAttachment"] = True
    return record


@dataclass
class Production:
    root: Path
    log: Signer
    witnesses: list[Signer]
    trees: dict[str, list[bytes]] = field(default_factory=dict)
    lines: list[dict] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)

    def origin(self, source: str) -> str:
        return f"{self.log.name}/{source}"

    def proof(self, n: int) -> Path:
        return self.root / self.lines[n]["proof"]

    def rewrite_proof(self, n: int, note: str, leaves: list[bytes] | None = None) -> None:
        line = self.lines[n]
        leaves = leaves or self.trees[line["source_id"]]
        self.proof(n).write_text(tlog_proof(self.indexes[n], leaves, note), encoding="utf-8")

    def write_lines(self) -> None:
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines)
        (self.root / "proofs" / "versions.jsonl").write_text(text, encoding="utf-8")


def build_production(root: Path, log: Signer, witnesses: list[Signer]) -> Production:
    """Two sources (23 and 14 archived versions); every third version is produced."""
    production = Production(root, log, witnesses)
    produced_lines = []
    for source, count in (("src-a", 23), ("src-b", 14)):
        records = [message(source, i) for i in range(count)]
        hashes = [identity_sha256(r) for r in records]
        leaves = [leaf(h) for h in hashes]
        production.trees[source] = leaves
        note = checkpoint(production.origin(source), leaves, log, witnesses)
        (root / "proofs" / source).mkdir(parents=True)
        for i in range(0, count, 3):
            raw = json.dumps(records[i], ensure_ascii=False)
            line = {
                "content_id": records[i]["id"],
                "source_id": source,
                "record_sha256": hashes[i],
                "raw_json": raw,
                "transport": TRANSPORT,
                "proof": f"proofs/{source}/{hashes[i]}.tlog-proof",
            }
            (root / line["proof"]).write_text(tlog_proof(i, leaves, note), encoding="utf-8")
            production.lines.append(line)
            production.indexes.append(i)
            produced_lines.append(raw)
    production.write_lines()
    messages = root / "messages.jsonl"
    messages.write_text("".join(f"{raw}\n" for raw in produced_lines), encoding="utf-8")
    data = messages.read_bytes()
    manifest = {
        "format": "rc-archive/export/1",
        "files": [
            {
                "path": "messages.jsonl",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "rows": len(produced_lines),
            }
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return production


# -- running the copied script ----------------------------------------------------------------


@pytest.fixture
def kit(tmp_path) -> Path:
    """The verifier copied alone into an otherwise empty folder."""
    folder = tmp_path / "kit"
    folder.mkdir()
    shutil.copyfile(SCRIPT, folder / "verify_proof.py")
    return folder


@pytest.fixture
def keys(tmp_path) -> tuple[Signer, list[Signer], Path]:
    log = Signer(LOG_NAME)
    witnesses = [Signer("witness-one.example/w1"), Signer("witness-two.example/w2")]
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "log.vkey").write_text(log.vkey() + "\n", encoding="utf-8")
    (folder / "w2.vkey").write_text(witnesses[1].vkey(0x01) + "\n", encoding="utf-8")
    return log, witnesses, folder


@pytest.fixture
def production(tmp_path, keys) -> Production:
    log, witnesses, _ = keys
    return build_production(tmp_path / "production", log, witnesses)


def run(kit: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, "-I", str(kit / "verify_proof.py"), *args],
        capture_output=True,
        text=True,
        cwd=kit,
        env=env,
        timeout=300,
    )


def trust_args(keys, quorum: int | None = None) -> list[str]:
    log, witnesses, folder = keys
    args = ["--log-key", str(folder / "log.vkey")]
    # one witness key as vkey text of its cosignature type, one as a file of type 0x01
    args += ["--witness-key", witnesses[0].vkey(0x04), "--witness-key", str(folder / "w2.vkey")]
    return args + ([] if quorum is None else ["--quorum", str(quorum)])


def check_production(kit, keys, production, **kw) -> subprocess.CompletedProcess:
    return run(kit, str(production.root), *trust_args(keys, **kw))


def failed(result: subprocess.CompletedProcess, *needles: str) -> list[str]:
    """The FAILED lines, after checking exit 1, the summary, and that each needle is in one."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("FAILED: "), result.stdout
    assert all(line.startswith("FAILED: ") for line in lines), result.stdout
    for needle in needles:
        assert any(needle in line for line in lines[:-1]), (needle, result.stdout)
    assert "Traceback" not in result.stderr
    return lines[:-1]


# -- a production folder ----------------------------------------------------------------------


def test_a_good_production_is_proven(kit, keys, production):
    result = check_production(kit, keys, production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == [
        "OK: 13 versions of 2 sources proven against checkpoints cosigned by 2 of 2 witnesses; "
        "manifest.json lists 1 file(s), each of them matches"
    ]


def test_without_witness_keys_it_says_no_witness_was_checked(kit, keys, production):
    _, _, folder = keys
    result = run(kit, str(production.root), "--log-key", str(folder / "log.vkey"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no witness was checked" in result.stdout


def test_a_flipped_bit_in_a_path_hash(kit, keys, production):
    lines = production.proof(2).read_text().split("\n")
    assert lines[1] == f"index {production.indexes[2]}"
    first = bytearray(base64.b64decode(lines[2]))
    first[5] ^= 0x10
    lines[2] = b64(bytes(first))
    production.proof(2).write_text("\n".join(lines))
    [line] = failed(check_production(kit, keys, production), "is not leaf")
    assert production.lines[2]["content_id"] in line


def test_a_wrong_index(kit, keys, production):
    path = production.proof(4)
    index = production.indexes[4]
    path.write_text(path.read_text().replace(f"index {index}\n", f"index {index + 1}\n", 1))
    [line] = failed(check_production(kit, keys, production), f"is not leaf {index + 1}")
    assert production.lines[4]["content_id"] in line


def test_a_checkpoint_signed_by_another_key(kit, keys, production):
    source = production.lines[9]["source_id"]
    impostor = Signer(LOG_NAME)  # same name, another key
    note = checkpoint(production.origin(source), production.trees[source], impostor, [])
    production.rewrite_proof(9, note)
    lines = failed(
        check_production(kit, keys, production), "is not signed by the log key", "quorum 2"
    )
    assert all(production.lines[9]["content_id"] in line for line in lines)


def test_a_checkpoint_modified_after_signing(kit, keys, production):
    path = production.proof(0)
    text = path.read_text()
    size = len(production.trees["src-a"])
    path.write_text(text.replace(f"\n{size}\n", f"\n{size + 1}\n", 1))
    failed(
        check_production(kit, keys, production),
        "signature by the log key",
        "cosignature by witness witness-one.example/w1 does not verify",
    )


def test_a_cosignature_by_an_unknown_witness_misses_the_quorum(kit, keys, production):
    log, witnesses, _ = keys
    stranger = Signer("witness-three.example/w3")
    source = production.lines[0]["source_id"]
    leaves = production.trees[source]
    note = checkpoint(production.origin(source), leaves, log, [witnesses[0], stranger])
    production.rewrite_proof(0, note)
    [line] = failed(
        check_production(kit, keys, production), "cosigned by 1 of the 2 witness keys given"
    )
    assert "quorum 2 not met" in line and production.lines[0]["content_id"] in line
    relaxed = check_production(kit, keys, production, quorum=1)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "cosigned by 1 of 2 witnesses (quorum 1)" in relaxed.stdout


def test_a_cosignature_over_another_checkpoint(kit, keys, production):
    log, witnesses, _ = keys
    source = production.lines[1]["source_id"]
    leaves = production.trees[source]
    text = f"{production.origin(source)}\n{len(leaves)}\n{b64(mth(leaves))}\n"
    older = f"{production.origin(source)}\n{len(leaves) - 1}\n{b64(mth(leaves[:-1]))}\n"
    note = (
        text
        + "\n"
        + log.signature_line(text)
        + witnesses[0].cosignature_line(older)  # a real cosignature, of the older tree
        + witnesses[1].cosignature_line(text)
    )
    production.rewrite_proof(1, note)
    lines = failed(
        check_production(kit, keys, production),
        "cosignature by witness witness-one.example/w1 does not verify",
        "cosigned by 1 of the 2",
    )
    assert all(production.lines[1]["content_id"] in line for line in lines)


def test_two_roots_for_one_tree_size_are_a_split_view(kit, keys, production):
    log, witnesses, _ = keys
    source = production.lines[5]["source_id"]
    forked = list(production.trees[source])
    forked[-1] = leaf(hashlib.sha256(b"another history").hexdigest())
    assert production.indexes[5] != len(forked) - 1
    production.rewrite_proof(
        5, checkpoint(production.origin(source), forked, log, witnesses), forked
    )
    failed(check_production(kit, keys, production), "have different roots")


def test_raw_json_edited_and_transport_values_changed(kit, keys, production):
    # a new attachment link is how the message was delivered, not what it is: still proven
    with_link = next(
        n for n, line in enumerate(production.lines) if "attachments" in line["raw_json"]
    )
    record = json.loads(production.lines[with_link]["raw_json"])
    record["attachments"][0]["uri"] = "https://media.example/elsewhere?sig=new"
    record["hasAttachment"] = False
    production.lines[with_link]["raw_json"] = json.dumps(record)
    production.write_lines()
    assert check_production(kit, keys, production).returncode == 0
    # a changed word is another message
    edited = production.lines[3]
    edited["raw_json"] = edited["raw_json"].replace("Angebot", "Angebote")
    production.write_lines()
    [line] = failed(check_production(kit, keys, production), "raw_json hashes to")
    assert f"content {edited['content_id']} " in line


def test_a_missing_proof_file(kit, keys, production):
    production.proof(7).unlink()
    [line] = failed(check_production(kit, keys, production), "is missing")
    assert production.lines[7]["content_id"] in line and production.lines[7]["proof"] in line


def test_a_proof_path_may_not_leave_the_production(kit, keys, production):
    production.lines[6]["proof"] = "../keys/log.vkey"
    production.write_lines()
    failed(check_production(kit, keys, production), "leaves the production")


def test_a_manifest_file_edited(kit, keys, production):
    messages = production.root / "messages.jsonl"
    data = messages.read_bytes()
    messages.write_bytes(data.replace(b"Nachricht 3 ", b"Nachricht 8 ", 1))  # same size
    [line] = failed(check_production(kit, keys, production), "manifest.json")
    assert "messages.jsonl has SHA-256" in line
    messages.write_bytes(data + b"{}\n")
    failed(check_production(kit, keys, production), "messages.jsonl has SHA-256")
    messages.unlink()
    failed(check_production(kit, keys, production), "messages.jsonl is missing")

    # the proof files, when the manifest lists them apart
    messages.write_bytes(data)
    manifest_path = production.root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    proof = production.proof(0)
    entry = {"path": proof.relative_to(production.root).as_posix(), "sha256": "0" * 64}
    manifest["proofs"] = {"files": [entry]}
    manifest_path.write_text(json.dumps(manifest))
    [line] = failed(check_production(kit, keys, production), "manifest.json")
    assert entry["path"] in line
    entry["sha256"] = hashlib.sha256(proof.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    assert check_production(kit, keys, production).returncode == 0


def test_usage_errors_exit_2_with_one_line(kit, keys, production):
    log, _, folder = keys
    good = log.vkey()
    name, key_hash, material = good.split("+", 2)
    broken = {
        "not a vkey": "just-some-text",
        "wrong key id": f"{name}+{'0' * 8}+{material}",
        "cosignature type for the log": f"{name}+{log.key_id(0x04).hex()}+"
        + b64(b"\x04" + log.public),
        "bad base64": f"{name}+{key_hash}+{material[:-2]}",
    }
    for why, vkey in broken.items():
        result = run(kit, str(production.root), "--log-key", vkey)
        assert result.returncode == 2, (why, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert result.stdout == ""
    missing = run(kit, str(production.root / "nowhere"), "--log-key", str(folder / "log.vkey"))
    assert missing.returncode == 2 and "no such production folder" in missing.stderr
    too_many = check_production(kit, keys, production, quorum=3)
    assert too_many.returncode == 2 and len(too_many.stderr.strip().splitlines()) == 1
    no_key = run(kit, str(production.root))
    assert no_key.returncode == 2 and "--log-key" in no_key.stderr


# -- one .tlog-proof file ---------------------------------------------------------------------


def test_one_tlog_proof_file(kit, keys, production):
    log, _, folder = keys
    line = production.lines[8]
    proof = str(production.proof(8))
    ok = run(kit, proof, *trust_args(keys), "--record-sha256", line["record_sha256"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"is leaf {production.indexes[8]} of the tree of" in ok.stdout
    assert "cosigned by 2 of 2 witnesses" in ok.stdout
    alone = run(kit, proof, "--log-key", log.vkey(), "--record-sha256", line["record_sha256"])
    assert alone.returncode == 0 and "no witness was checked" in alone.stdout
    # the optional, unauthenticated `extra` line changes nothing
    text = production.proof(8).read_text()
    production.proof(8).write_text(text.replace("\nindex ", "\nextra aGVsbG8=\nindex ", 1))
    with_extra = run(kit, proof, *trust_args(keys), "--record-sha256", line["record_sha256"])
    assert with_extra.returncode == 0, with_extra.stdout
    other = production.lines[9]["record_sha256"]
    failed(run(kit, proof, *trust_args(keys), "--record-sha256", other), "is not leaf")
    bad = run(kit, proof, *trust_args(keys), "--record-sha256", "00ff")
    assert bad.returncode == 2 and "--record-sha256" in bad.stderr


def test_a_proof_of_another_source(kit, keys, production):
    # the right tree, signed and cosigned, but the log's checkpoint of another origin
    log, witnesses, _ = keys
    leaves = production.trees["src-a"]
    production.rewrite_proof(0, checkpoint(production.origin("src-b"), leaves, log, witnesses))
    [line] = failed(check_production(kit, keys, production), "is not 'archive.example/log/src-a'")
    assert production.lines[0]["content_id"] in line


def test_the_checkpoint_origin_must_be_the_logs(kit, keys, production):
    log, witnesses, _ = keys
    leaves = production.trees["src-a"]
    for origin in ("archive.example/logbook/src-a", "elsewhere.example/src-a"):
        production.rewrite_proof(0, checkpoint(origin, leaves, log, witnesses))
        result = run(
            kit,
            str(production.proof(0)),
            *trust_args(keys),
            "--record-sha256",
            production.lines[0]["record_sha256"],
        )
        failed(result, "is not of the log")


# -- published vectors --------------------------------------------------------------------------

# RFC 8032 §7.1, TEST 1, 2 and 3: (secret key, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize("secret,public,msg,signature", RFC8032, ids=["test1", "test2", "test3"])
def test_ed25519_rfc8032_vectors(secret, public, msg, signature):
    public, msg, signature = bytes.fromhex(public), bytes.fromhex(msg), bytes.fromhex(signature)
    # the vector as transcribed is the one an independent implementation produces
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == public
    assert private.sign(msg) == signature
    assert vp.ed25519_verify(public, msg, signature)
    assert not vp.ed25519_verify(public, msg + b"\x00", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not vp.ed25519_verify(public, msg, flipped)
    too_big_s = signature[:32] + (int.from_bytes(signature[32:], "little") + vp.Q).to_bytes(
        32, "little"
    )
    assert not vp.ed25519_verify(public, msg, too_big_s)  # S >= L is refused, not reduced


# golang.org/x/mod/sumdb/note, note_test.go
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"\u2014 PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"\u2014 EnochRoot {ENOCH_B64}\n"


def test_go_note_verifier_keys():
    peter = vp.parse_vkey(PETER_KEY)
    assert peter.name == "PeterNeumann" and peter.note_id() == bytes.fromhex("c74f20a3")
    b = PETER_KEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(ValueError):
                    vp.parse_vkey(b[i:j].decode())
    for i in range(len(b)):
        mangled = bytearray(b)
        mangled[i] += 1
        with pytest.raises(ValueError):
            vp.parse_vkey(mangled.decode())
    for bad in (
        # wrong length key, with adjusted key hash
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        # unknown algorithm, with adjusted key hash
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(ValueError):
            vp.parse_vkey(bad)


def test_go_note_open():
    peter, enoch = vp.parse_vkey(PETER_KEY), vp.parse_vkey(ENOCH_KEY)
    note = vp.parse_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode())
    assert note.text == TEXT
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert vp.note_signed_by(note, peter) is True
    assert vp.note_signed_by(note, enoch) is True
    # a known name with another key id, or another name with the known id: ignored
    misnamed = vp.parse_note(
        (TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "CarmenSandiego")).encode()
    )
    assert vp.note_signed_by(misnamed, peter) is None
    wrong_hash = vp.parse_note((TEXT + "\n" + PETER_SIG.replace("x08g", "xxxx")).encode())
    assert vp.note_signed_by(wrong_hash, peter) is None
    # an invalid signature by a known key
    corrupt = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    assert vp.note_signed_by(vp.parse_note((TEXT + "\n" + corrupt).encode()), peter) is False
    # duplicated signatures, and an unverifiable one by a key not trusted here
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    many = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert vp.note_signed_by(vp.parse_note(many.encode()), peter) is True
    # too many signatures
    with pytest.raises(ValueError, match="malformed note"):
        vp.parse_note((TEXT + "\n" + PETER_SIG * 101).encode())
    bad_messages = [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + f"\u2014 Bad Name {PETER_B64}",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        # and, each with its newline: a name with a plus, a signature that is not base64
        TEXT + "\n" + f"\u2014 Peter+Neumann {PETER_B64}\n",
        TEXT + "\n" + f"\u2014 PeterNeumann {PETER_B64[:-1]}\n",
    ]
    for bad in bad_messages:
        with pytest.raises(ValueError, match="malformed note"):
            vp.parse_note(bad.encode())
    with pytest.raises(ValueError, match="malformed note"):
        vp.parse_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode())


def test_cosignature_v1_message_layout():
    witness = Signer("witness.example/w")
    text = "example.com/log\n5\n" + b64(bytes(32)) + "\n"
    note = vp.parse_note((text + "\n" + witness.cosignature_line(text, 1_679_315_147)).encode())
    key = vp.parse_vkey(witness.vkey(0x04), (0x01, 0x04))
    assert vp.cosigned_by(note, key) is True
    blob = note.signatures[0].signature
    assert int.from_bytes(blob[:8], "big") == 1_679_315_147
    signed = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    assert vp.ed25519_verify(witness.public, signed, blob[8:])
    # a note signature (type 0x01) by the witness key is not a cosignature
    plain = vp.parse_note((text + "\n" + witness.signature_line(text)).encode())
    assert vp.cosigned_by(plain, key) is None
