"""The cosigning witness (pipelines/integrity/cosigning_witness.py) as a log meets it: a real
`rc-archive witness serve` on 127.0.0.1, a growing log whose roots and proofs come from
pipelines/archive/merkle.py, the archive side's client `submit_checkpoint`.

What must hold (c2sp.org/tlog-witness): the first checkpoint and every consistent extension are
cosigned, and the cosignature verifies with the witness's vkey; a stale client or a rollback
gets 409 with the witness's size; a fork (same size, other root; or a larger tree that does
not contain the old one) 422; a bad log signature 403; an unknown origin 404; a malformed
request 400; and no refusal changes what the witness stored. The state survives a restart;
concurrent submissions for one origin are serialised (exactly one of them wins).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli.main import main
from pipelines.archive import merkle
from pipelines.integrity.cosigning_witness import (
    BadLogSignature,
    BadRequest,
    Conflict,
    CosigningWitness,
    InconsistentCheckpoint,
    UnknownOrigin,
    WitnessServerThread,
    WitnessStateError,
    WitnessUnavailable,
    format_add_checkpoint,
    origin_hash,
    submit_checkpoint,
)
from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    Signer,
    add_signatures,
    generate_signer,
    read_signer_key,
    read_verifier_key,
    sign_note,
)
from pipelines.integrity.tlog import Checkpoint, verify_cosignature, verify_witnessed_checkpoint

RC_ARCHIVE = str(Path(sys.executable).with_name("rc-archive"))
LOG_NAME = "archive.example/log"
ORIGIN = f"{LOG_NAME}/source-1"
START_SECONDS = 60


def _leaves(n: int, fork_at: int | None = None) -> list[bytes]:
    return [
        merkle.leaf_hash(
            f"{'forked ' if fork_at is not None and i >= fork_at else ''}v{i}".encode()
        )
        for i in range(n)
    ]


def _note(signer: Signer, leaves: list[bytes], size: int, origin: str = ORIGIN) -> str:
    return sign_note(Checkpoint(origin, size, merkle.root(leaves[:size])).text(), [signer])


def _body(note: str) -> str:
    return note.split("\n\n")[0] + "\n"


def _state(state_dir: Path) -> dict[str, bytes]:
    """Every checkpoint the witness stored (the lock files are not state)."""
    logs = state_dir / "logs"
    return {
        str(path.relative_to(logs)): path.read_bytes() for path in logs.rglob("*") if path.is_file()
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WitnessProcess:
    """`rc-archive witness serve` as a child process, its output in files."""

    def __init__(self, workdir: Path, key: Path, state: Path, log_vkey: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = ["witness", "serve", "--key", str(key), "--state", str(state)]
        argv += ["--log", log_vkey, "--port", str(self.port)]
        workdir.mkdir(parents=True, exist_ok=True)
        self._out = open(workdir / "stdout", "ab")  # noqa: SIM115 - closed in stop()
        self._err = open(workdir / "stderr", "ab")  # noqa: SIM115
        self.workdir = workdir
        self.process = subprocess.Popen(
            [RC_ARCHIVE, *argv], stdout=self._out, stderr=self._err, env=dict(os.environ)
        )

    def wait_ready(self) -> WitnessProcess:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"witness exited {self.process.returncode}: "
                    f"{(self.workdir / 'stderr').read_text(errors='replace')}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("the witness did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._err.close()


@pytest.fixture
def keys(tmp_path, capsys):
    """A witness key made by `rc-archive witness keygen`, and the archive's log key."""
    witness_key = tmp_path / "keys" / "witness.key"
    assert main(["witness", "keygen", "--name", "witness.test/w1", "--out", str(witness_key)]) == 0
    printed = capsys.readouterr().out
    vkey_path = Path(f"{witness_key}.vkey")
    assert vkey_path.read_text().strip() in printed
    log_signer = generate_signer(LOG_NAME)
    log_vkey = tmp_path / "log.vkey"
    log_vkey.write_text(log_signer.verifier().vkey() + "\n")
    return witness_key, read_verifier_key(str(vkey_path)), log_signer, log_vkey


def test_keygen_writes_a_private_cosigner_key_and_refuses_to_overwrite(keys, capsys):
    witness_key, witness, _, _ = keys
    assert witness_key.stat().st_mode & 0o777 == 0o600
    assert witness.sig_type == COSIGNATURE_V1 and witness.name == "witness.test/w1"
    assert read_signer_key(witness_key).verifier() == witness
    assert main(["witness", "keygen", "--name", "x", "--out", str(witness_key)]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_a_growing_log_through_a_real_witness(keys, tmp_path):
    witness_key, witness, log_signer, log_vkey = keys
    state = tmp_path / "state"
    leaves = _leaves(20)
    server = WitnessProcess(tmp_path / "run1", witness_key, state, str(log_vkey)).wait_ready()
    try:
        # the first checkpoint: old size 0, no proof
        first = _note(log_signer, leaves, 3)
        lines = submit_checkpoint(server.url, 0, [], first, witness=witness)
        assert len(lines) == 1 and lines[0].startswith("\u2014 witness.test/w1 ")
        assert verify_cosignature(_body(first), lines[0], witness) > 0
        stored = state / "logs" / origin_hash(ORIGIN)
        assert sorted(p.name for p in stored.iterdir()) == [
            "00000000000000000003.checkpoint",
            "origin",
        ]

        # grown, with the consistency proof from the witness's size
        grown = _note(log_signer, leaves, 7)
        lines = submit_checkpoint(server.url, 3, merkle.consistency_proof(leaves, 3, 7), grown)
        witnessed = verify_witnessed_checkpoint(
            add_signatures(grown, lines), log_signer.verifier(), [witness], 1
        )
        assert witnessed.checkpoint.size == 7

        # what monitors read: the latest checkpoint, with the log's and the witness's signatures
        served = httpx.get(f"{server.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=10)
        assert served.status_code == 200
        monitored = verify_witnessed_checkpoint(served.text, log_signer.verifier(), [witness], 1)
        assert monitored.checkpoint.size == 7
        unknown = httpx.get(f"{server.url}/{origin_hash('nobody')}/checkpoint", timeout=10)
        assert unknown.status_code == 404

        before = _state(state)
        _refusals(server.url, state, before, log_signer, leaves)

        grown = _note(log_signer, leaves, 12)
        submit_checkpoint(server.url, 7, merkle.consistency_proof(leaves, 7, 12), grown)
    finally:
        server.stop()

    # a restart keeps what the witness cosigned
    server = WitnessProcess(tmp_path / "run2", witness_key, state, str(log_vkey)).wait_ready()
    try:
        with pytest.raises(Conflict) as conflict:
            submit_checkpoint(server.url, 0, [], _note(log_signer, leaves, 15))
        assert conflict.value.current_size == 12
        grown = _note(log_signer, leaves, 15)
        lines = submit_checkpoint(
            server.url, 12, merkle.consistency_proof(leaves, 12, 15), grown, witness=witness
        )
        assert verify_cosignature(_body(grown), lines[0], witness) > 0
    finally:
        server.stop()
    sizes = sorted(p.name for p in (state / "logs" / origin_hash(ORIGIN)).glob("*.checkpoint"))
    assert sizes == [f"{n:020d}.checkpoint" for n in (3, 7, 12, 15)]


def _refusals(url, state, before, log_signer, leaves):
    """Each refusal the witness at size 7 must give, none of them changing its state."""

    def unchanged():
        assert _state(state) == before

    # a stale client (it believes the witness is at 3): 409 with the witness's size
    raw = httpx.post(
        f"{url}/add-checkpoint",
        content=format_add_checkpoint(
            3, merkle.consistency_proof(leaves, 3, 9), _note(log_signer, leaves, 9)
        ),
        timeout=10,
    )
    assert raw.status_code == 409
    assert raw.headers["content-type"] == "text/x.tlog.size"
    assert raw.text == "7\n"
    unchanged()

    # a rollback to 5: whoever claims the witness is at 5 gets its size; claiming 7 is a bad
    # request (an old size above the checkpoint's)
    rollback = _note(log_signer, leaves, 5)
    with pytest.raises(Conflict) as conflict:
        submit_checkpoint(url, 5, [], rollback)
    assert conflict.value.current_size == 7
    with pytest.raises(BadRequest, match="400"):
        submit_checkpoint(url, 7, [], rollback)
    unchanged()

    # a fork: the same size with another root
    forked = _leaves(20, fork_at=4)
    with pytest.raises(InconsistentCheckpoint, match="422"):
        submit_checkpoint(url, 7, [], _note(log_signer, forked, 7))
    unchanged()

    # a fork: a larger tree that does not contain the cosigned one, with its own valid proof
    with pytest.raises(InconsistentCheckpoint, match="422"):
        submit_checkpoint(
            url, 7, merkle.consistency_proof(forked, 7, 10), _note(log_signer, forked, 10)
        )
    unchanged()

    # a real extension with a wrong proof (from another size)
    with pytest.raises(InconsistentCheckpoint):
        submit_checkpoint(
            url, 7, merkle.consistency_proof(leaves, 6, 10), _note(log_signer, leaves, 10)
        )
    unchanged()

    # signed by another key of the same name; or altered after signing
    impostor = generate_signer(LOG_NAME)
    with pytest.raises(BadLogSignature, match="403"):
        submit_checkpoint(
            url, 7, merkle.consistency_proof(leaves, 7, 10), _note(impostor, leaves, 10)
        )
    genuine = _note(log_signer, leaves, 10)
    altered = genuine.replace(f"{ORIGIN}\n10\n", f"{ORIGIN}\n11\n", 1)
    with pytest.raises(BadLogSignature, match="invalid signature"):
        submit_checkpoint(url, 7, merkle.consistency_proof(leaves, 7, 11), altered)
    unchanged()

    # unknown origins: another log, and a name that only starts like the log key's
    for origin in ("other.example/log/source-1", f"{LOG_NAME}x/source-1"):
        with pytest.raises(UnknownOrigin, match="404"):
            submit_checkpoint(url, 0, [], _note(log_signer, leaves, 3, origin=origin))
    unchanged()

    # a first checkpoint of another source with a proof, and a malformed request
    with pytest.raises(InconsistentCheckpoint, match="must be empty"):
        submit_checkpoint(
            url,
            0,
            [merkle.root(leaves[:1])],
            _note(log_signer, leaves, 3, origin=f"{LOG_NAME}/source-2"),
        )
    for body in (b"old 07\n\n" + genuine.encode(), b"new 7\n\n", b"old 7\nnot-base64\n\n"):
        assert httpx.post(f"{url}/add-checkpoint", content=body, timeout=10).status_code == 400
    unchanged()


# -- in-process ----------------------------------------------------------------------------------


def test_concurrent_submissions_for_one_origin_are_serialised(tmp_path):
    """Eight submissions from size 3, to eight different sizes, through two witness objects
    on one state directory (as two processes would be): exactly one is cosigned, the others
    get the size it moved the witness to."""
    signer = generate_signer("witness.test/w1", COSIGNATURE_V1)
    log_signer = generate_signer(LOG_NAME)
    logs = {LOG_NAME: log_signer.verifier()}
    witnesses = [CosigningWitness(tmp_path / "state", signer, logs) for _ in range(2)]
    leaves = _leaves(20)
    witnesses[0].add_checkpoint(0, [], _note(log_signer, leaves, 3))
    requests = [
        (n, merkle.consistency_proof(leaves, 3, n), _note(log_signer, leaves, n))
        for n in range(4, 12)
    ]
    start = threading.Barrier(len(requests))
    outcomes: dict[int, object] = {}

    def submit(i: int, size: int, proof, note) -> None:
        start.wait()
        try:
            outcomes[size] = witnesses[i % 2].add_checkpoint(3, proof, note)
        except Conflict as exc:
            outcomes[size] = exc

    threads = [
        threading.Thread(target=submit, args=(i, *request)) for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [size for size, outcome in outcomes.items() if isinstance(outcome, list)]
    assert len(won) == 1, outcomes
    assert {o.current_size for o in outcomes.values() if isinstance(o, Conflict)} == set(won)
    assert witnesses[1].latest(ORIGIN).checkpoint.size == won[0]


def test_empty_trees_and_the_witness_checks_of_its_own_inputs(tmp_path):
    signer = generate_signer("witness.test/w1", COSIGNATURE_V1)
    log_signer = generate_signer(LOG_NAME)
    logs = {LOG_NAME: log_signer.verifier()}
    witness = CosigningWitness(tmp_path / "state", signer, logs, clock=lambda: 1_700_000_000.5)
    wrong_empty = sign_note(Checkpoint(ORIGIN, 0, merkle.leaf_hash(b"x")).text(), [log_signer])
    with pytest.raises(InconsistentCheckpoint, match="empty tree"):
        witness.add_checkpoint(0, [], wrong_empty)
    assert witness.latest(ORIGIN) is None
    assert _state(tmp_path / "state") == {}
    empty = sign_note(Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT).text(), [log_signer])
    [line] = witness.add_checkpoint(0, [], empty)
    assert verify_cosignature(_body(empty), line, signer.verifier()) == 1_700_000_000
    leaves = _leaves(4)
    witness.add_checkpoint(0, [], _note(log_signer, leaves, 4))
    # the same checkpoint again: cosigned again, nothing rewritten
    before = _state(tmp_path / "state")
    witness.add_checkpoint(4, [], _note(log_signer, leaves, 4))
    assert _state(tmp_path / "state") == before

    with pytest.raises(ValueError, match="0x04"):
        CosigningWitness(tmp_path / "other", log_signer, logs)
    with pytest.raises(ValueError, match="is given with the key"):
        CosigningWitness(tmp_path / "other", signer, {"x.example": log_signer.verifier()})
    (tmp_path / "a-file").write_text("")
    with pytest.raises(WitnessStateError, match="cannot be created"):
        CosigningWitness(tmp_path / "a-file", signer, logs)


def test_a_state_file_that_is_not_the_witnesss_stops_the_origin_with_a_500(tmp_path):
    signer = generate_signer("witness.test/w1", COSIGNATURE_V1)
    log_signer = generate_signer(LOG_NAME)
    witness = CosigningWitness(tmp_path / "state", signer, {LOG_NAME: log_signer.verifier()})
    leaves = _leaves(6)
    witness.add_checkpoint(0, [], _note(log_signer, leaves, 2))
    stored = tmp_path / "state" / "logs" / origin_hash(ORIGIN) / f"{2:020d}.checkpoint"
    stored.chmod(0o644)
    stored.write_text("garbage\n")
    with pytest.raises(WitnessStateError, match="not a checkpoint the witness wrote"):
        witness.add_checkpoint(
            2, merkle.consistency_proof(leaves, 2, 6), _note(log_signer, leaves, 6)
        )
    with WitnessServerThread(witness) as server:
        answer = httpx.post(
            f"{server.url}/add-checkpoint",
            content=format_add_checkpoint(
                2, merkle.consistency_proof(leaves, 2, 6), _note(log_signer, leaves, 6)
            ),
            timeout=10,
        )
        assert answer.status_code == 500
        assert "garbage" not in answer.text
        with pytest.raises(WitnessUnavailable, match="500"):
            submit_checkpoint(server.url, 2, [], _note(log_signer, leaves, 6))


def test_an_unreachable_witness_is_reported_as_such():
    with pytest.raises(WitnessUnavailable, match="no answer"):
        submit_checkpoint(f"http://127.0.0.1:{_free_port()}", 0, [], "x\n\n", timeout=2)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--key", "{tmp}/missing.key"], "cannot be read"),
        (["--key", "{tmp}/log.vkey"], "not a signer key"),
        (["--log", "not+a+vkey"], "--log"),
        (["--state", "{tmp}/log.vkey"], "cannot be created"),
    ],
)
def test_serve_refuses_bad_input_with_one_line(keys, tmp_path, capsys, argv, reason):
    witness_key, _, _, log_vkey = keys
    options = {
        "--key": str(witness_key),
        "--state": str(tmp_path / "state"),
        "--log": str(log_vkey),
    }
    options[argv[0]] = argv[1].format(tmp=tmp_path)
    command = ["witness", "serve", *[part for pair in options.items() for part in pair]]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert reason in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "PRIVATE+KEY" not in err
