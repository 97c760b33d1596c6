"""A cosigning witness (c2sp.org/tlog-witness): it cosigns a log's checkpoint only when it
extends, append-only, every checkpoint of that log it cosigned before.

Why: a log's own signature proves who wrote a checkpoint, not that the log shows everyone the
same history. A witness remembers the latest tree it cosigned per origin and refuses anything
that is not a consistent extension of it: a rollback (a smaller tree), a fork (the same size
with another root, or a larger tree that does not contain the old one), a stale client. Its
cosignature (c2sp.org/tlog-cosignature) then lets a reader who trusts it check, offline, that
the checkpoint it holds is the one history the log committed to.

Which logs: `logs` maps a log key's name to its Verifier. A checkpoint whose origin is that
name, or starts with that name and "/", must be validly signed by that key: one archive key
signs the log of every source, with origins `<key name>/<source id>`.

`add_checkpoint(old_size, proof, note)` refuses, without changing any state:
  BadRequest (400)             a malformed request, or an old size above the checkpoint's
  BadLogSignature (403)        no valid signature by the trusted key, or one that fails
  UnknownOrigin (404)          no configured key covers the origin
  Conflict (409, current_size) old size is not the size the witness last cosigned
  InconsistentCheckpoint (422) the consistency proof from the latest tree does not verify
                               (a fork), a non-empty proof from 0, a size-0 checkpoint
                               whose root is not the empty tree's
and otherwise persists the checkpoint, then answers its cosignature line(s).

State, under `state_dir` (survives restarts; nothing is ever overwritten):
  logs/<sha256(origin) hex>/origin                          the origin, as text
  logs/<sha256(origin) hex>/<size:020d>.checkpoint          each accepted checkpoint: its
                                                            body, the log's verified
                                                            signature(s) and the cosignature
  locks/<sha256(origin) hex>                                lock file of the origin
The latest checkpoint of an origin is its largest. Checking the old size and writing the new
checkpoint happen under an exclusive lock of the origin (flock, so two threads or two
processes on one state directory are serialised too): otherwise two requests could both pass
the check and the smaller one roll the witness back.

`build_app` serves it over HTTP (POST /add-checkpoint, and GET /<sha256(origin) hex>/checkpoint
for monitors); `submit_checkpoint` is the client the archive side calls.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.archive import merkle
from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    NoteError,
    Signer,
    Verifier,
    decode_base64,
    format_note,
    open_note,
    parse_signature_line,
    split_note,
)
from pipelines.integrity.tlog import (
    Checkpoint,
    CheckpointError,
    CosignatureError,
    cosign,
    encode_hashes,
    parse_checkpoint,
    verify_cosignature,
)
from pipelines.server_thread import ServerThread

if TYPE_CHECKING:
    import httpx
    import uvicorn
    from starlette.applications import Starlette

log = logging.getLogger("pipelines.integrity.cosigning_witness")

TLOG_SIZE_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
# A request is a proof of at most 63 hashes and one checkpoint note (a few signatures).
MAX_BODY_BYTES = 1 << 20
_CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint$")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class WitnessError(ValueError):
    """Anything that went wrong between an archive and a witness (one-line message)."""


class WitnessRefusal(WitnessError):
    """The witness refused the checkpoint; `status` is the HTTP status tlog-witness gives."""

    status = 400


class BadRequest(WitnessRefusal):
    status = 400


class BadLogSignature(WitnessRefusal):
    status = 403


class UnknownOrigin(WitnessRefusal):
    status = 404


class Conflict(WitnessRefusal):
    """The old size is not the witness's latest: `current_size` is the size it last cosigned
    (0 if none). A client retries with a consistency proof from that size."""

    status = 409

    def __init__(self, current_size: int, message: str | None = None) -> None:
        super().__init__(
            message
            or f"the witness's latest cosigned size for this log is {current_size}: send a "
            f"consistency proof from size {current_size}"
        )
        self.current_size = current_size


class InconsistentCheckpoint(WitnessRefusal):
    status = 422


class WitnessUnavailable(WitnessError):
    """No answer, or an answer the protocol does not define (a 5xx): try again later."""


class WitnessStateError(WitnessError):
    """The witness's state directory cannot be read or written, or holds a file that is not
    what the witness wrote."""


_REFUSALS: dict[int, type[WitnessRefusal]] = {
    cls.status: cls for cls in (BadRequest, BadLogSignature, UnknownOrigin, InconsistentCheckpoint)
}


# -- the request body --------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """`old <size>`, one base64 hash a line, a blank line, the checkpoint note."""
    lines = [f"old {old_size}", *encode_hashes(proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """The request of an add-checkpoint body; BadRequest when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise BadRequest("the request needs an old size line, proof lines, a blank line, a note")
    lines = head.split("\n")
    if not lines[0].startswith("old ") or not _DECIMAL.fullmatch(lines[0][4:]):
        raise BadRequest("the first line must be `old <size>` (decimal, no leading zeroes)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise BadRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(lines[1:], start=1):
        try:
            value = decode_base64(line)
        except ValueError:
            value = b""
        if len(value) != 32:
            raise BadRequest(f"consistency proof line {number} is not a base64 SHA-256 hash")
        proof.append(value)
    return AddCheckpointRequest(int(lines[0][4:]), tuple(proof), note)


# -- the witness -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCheckpoint:
    """An accepted checkpoint as the witness keeps it."""

    checkpoint: Checkpoint
    note: str  # body, the log's verified signature(s), the witness's cosignature(s)


def origin_hash(origin: str) -> str:
    """SHA-256 of the origin, lowercase hex: the origin's directory and monitoring path."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


class CosigningWitness:
    """The witness of the logs in `logs` (key name -> Verifier), cosigning with `signer`
    (an Ed25519 cosignature/v1 key, type 0x04), its state under `state_dir`."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        signer: Signer,
        logs: Mapping[str, Verifier],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if signer.sig_type != COSIGNATURE_V1:
            raise ValueError(
                f"the witness key {signer.name} is of type 0x{signer.sig_type:02x}; a witness "
                "cosigns with a cosignature/v1 key (type 0x04)"
            )
        for name, verifier in logs.items():
            if name != verifier.name:
                raise ValueError(f"log key {name!r} is given with the key of {verifier.name!r}")
        if not logs:
            raise ValueError("a witness needs at least one log key")
        self.signer = signer
        self.logs = dict(logs)
        self.clock = clock
        self.state_dir = Path(state_dir)
        try:
            for sub in ("logs", "locks"):
                (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WitnessStateError(
                f"witness state directory {self.state_dir}: cannot be created "
                f"({exc.strerror or type(exc).__name__})"
            ) from None
        for sub in ("logs", "locks"):
            if not os.access(self.state_dir / sub, os.R_OK | os.W_OK | os.X_OK):
                raise WitnessStateError(
                    f"witness state directory {self.state_dir}: not readable and writable"
                )

    @property
    def verifier(self) -> Verifier:
        """The witness's public key (its vkey is what readers configure)."""
        return self.signer.verifier()

    def trusted_keys(self, origin: str) -> list[Verifier]:
        """The log keys trusted for `origin`: the key named so, or a prefix of it + "/"."""
        return [
            v for name, v in self.logs.items() if origin == name or origin.startswith(name + "/")
        ]

    # -- reading the state --

    def _origin_dir(self, origin: str) -> Path:
        return self.state_dir / "logs" / origin_hash(origin)

    def latest(self, origin: str) -> StoredCheckpoint | None:
        """The largest checkpoint cosigned for `origin`, None if none."""
        return self._latest_in(self._origin_dir(origin), origin)

    def latest_by_hash(self, hex_hash: str) -> StoredCheckpoint | None:
        """The same, by the origin's SHA-256 (the monitoring path)."""
        if not re.fullmatch(r"[0-9a-f]{64}", hex_hash):
            return None
        directory = self.state_dir / "logs" / hex_hash
        try:
            origin = (directory / "origin").read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise WitnessStateError(f"witness state {directory}: {type(exc).__name__}") from None
        return self._latest_in(directory, origin)

    def _latest_in(self, directory: Path, origin: str) -> StoredCheckpoint | None:
        try:
            sizes = [
                int(match.group(1))
                for name in os.listdir(directory)
                if (match := _CHECKPOINT_FILE.match(name))
            ]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessStateError(
                f"witness state {directory}: cannot be listed ({exc.strerror})"
            ) from None
        if not sizes:
            return None
        path = directory / f"{max(sizes):020d}.checkpoint"
        try:
            note = path.read_text("utf-8")
            text, _ = split_note(note)
            checkpoint = parse_checkpoint(text)
        except (OSError, UnicodeDecodeError, NoteError, CheckpointError) as exc:
            raise WitnessStateError(
                f"witness state {path}: not a checkpoint the witness wrote ({exc})"
            ) from None
        if checkpoint.origin != origin or checkpoint.size != max(sizes):
            raise WitnessStateError(f"witness state {path}: holds another origin or size")
        return StoredCheckpoint(checkpoint, note)

    @contextmanager
    def _locked(self, origin: str) -> Iterator[None]:
        path = self.state_dir / "locks" / origin_hash(origin)
        try:
            handle = open(path, "a+b")  # noqa: SIM115 - closed below, after the lock
        except OSError as exc:
            raise WitnessStateError(f"witness lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # releases the lock

    # -- the one operation --

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> list[str]:
        """The witness's cosignature line(s) (no newline) on the checkpoint of `note`, once
        it is a consistent extension of the latest checkpoint cosigned for its origin.

        `old_size` is the size the caller believes the witness last cosigned (0 for a first
        checkpoint, with an empty proof); `proof` the RFC 6962 consistency proof from it."""
        try:
            text, _ = split_note(note)
            checkpoint = parse_checkpoint(text)
        except (NoteError, CheckpointError) as exc:
            raise BadRequest(f"the checkpoint note: {exc}") from None
        origin = checkpoint.origin
        trusted = self.trusted_keys(origin)
        if not trusted:
            raise UnknownOrigin(f"unknown log origin {origin[:200]!r}: no key of this witness")
        try:
            opened = open_note(note, trusted)
        except NoteError as exc:
            raise BadLogSignature(f"checkpoint of {origin}: {exc}") from None
        if not 0 <= old_size <= checkpoint.size:
            raise BadRequest(
                f"old size {old_size} is larger than the checkpoint's size {checkpoint.size}"
            )
        if len(proof) > MAX_PROOF_LINES or any(len(h) != 32 for h in proof):
            raise BadRequest(f"a consistency proof is at most {MAX_PROOF_LINES} 32-byte hashes")
        with self._locked(origin):
            latest = self.latest(origin)
            latest_size = latest.checkpoint.size if latest else 0
            if old_size != latest_size:
                log.info(
                    "refused %s size %d: old size %d, witness at %d",
                    origin,
                    checkpoint.size,
                    old_size,
                    latest_size,
                )
                raise Conflict(latest_size)
            self._check_consistency(latest, checkpoint, list(proof))
            timestamp = int(self.clock())
            if timestamp <= 0:
                raise WitnessStateError("the witness clock reads no time after 1970")
            line = cosign(text, self.signer, timestamp)
            if latest is None or checkpoint.size > latest.checkpoint.size:
                kept = [v.signature for v in opened.verified]
                self._store(
                    origin, checkpoint, format_note(text, [*kept, parse_signature_line(line)])
                )
        log.info("cosigned %s size %d (from %d)", origin, checkpoint.size, old_size)
        return [line]

    @staticmethod
    def _check_consistency(
        latest: StoredCheckpoint | None, checkpoint: Checkpoint, proof: list[bytes]
    ) -> None:
        if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
            raise InconsistentCheckpoint("a checkpoint of size 0 must have the empty tree's root")
        if latest is None or latest.checkpoint.size == 0:
            if proof:
                raise InconsistentCheckpoint("the consistency proof from size 0 must be empty")
            return
        old = latest.checkpoint
        if merkle.verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof):
            return
        if old.size == checkpoint.size:
            reason = f"size {old.size} with another root than the one cosigned: a fork"
        else:
            reason = (
                f"the consistency proof from size {old.size} to {checkpoint.size} does not "
                "verify: the new tree does not extend the cosigned one (a fork), or the proof "
                "is wrong"
            )
        log.warning("refused %s: %s", old.origin, reason)
        raise InconsistentCheckpoint(f"checkpoint of {old.origin}: {reason}")

    def _store(self, origin: str, checkpoint: Checkpoint, note: str) -> None:
        """Write-once: a temporary file, flushed to disk, then linked to its final name (which
        fails rather than replace anything)."""
        directory = self._origin_dir(origin)
        final = directory / f"{checkpoint.size:020d}.checkpoint"
        temporary = directory / f".tmp-{secrets.token_hex(8)}"
        try:
            directory.mkdir(exist_ok=True)
            origin_file = directory / "origin"
            if not origin_file.exists():
                _write_synced(directory / f".tmp-{secrets.token_hex(8)}", origin, origin_file)
            _write_synced(temporary, note, final)
            _sync_directory(directory)
        except OSError as exc:
            raise WitnessStateError(
                f"witness state {final}: not written ({exc.strerror or type(exc).__name__})"
            ) from None


def _write_synced(temporary: Path, text: str, final: Path) -> None:
    try:
        with open(temporary, "xb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- HTTP: the server --------------------------------------------------------------------------


def build_app(witness: CosigningWitness) -> Starlette:
    """The witness as an ASGI app (Starlette): POST /add-checkpoint per c2sp.org/tlog-witness,
    GET /<sha256(origin) hex>/checkpoint (the latest cosigned checkpoint, for monitors)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    def text(message: str, status: int) -> Response:
        return PlainTextResponse(message + "\n", status_code=status)

    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return text("request body too large", 413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return text("request body too large", 413)
        try:
            parsed = parse_add_checkpoint(body)
            lines = await run_in_threadpool(
                witness.add_checkpoint, parsed.old_size, parsed.proof, parsed.note
            )
        except Conflict as exc:
            return Response(
                f"{exc.current_size}\n".encode("ascii"),
                status_code=409,
                headers={"Content-Type": TLOG_SIZE_TYPE},
            )
        except WitnessRefusal as exc:
            return text(str(exc), exc.status)
        except WitnessStateError as exc:
            log.error("witness state error: %s", exc)
            return text("the witness cannot read or write its state", 500)
        return text("\n".join(lines), 200)

    async def checkpoint(request: Request) -> Response:
        try:
            stored = await run_in_threadpool(
                witness.latest_by_hash, request.path_params["origin_hash"]
            )
        except WitnessStateError as exc:
            log.error("witness state error: %s", exc)
            return text("the witness cannot read its state", 500)
        if stored is None:
            return text("no checkpoint cosigned for this origin", 404)
        return PlainTextResponse(stored.note)

    async def health(request: Request) -> Response:
        return PlainTextResponse(witness.verifier.vkey() + "\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


class WitnessServerThread(ServerThread):
    """The witness served by uvicorn in a background thread on 127.0.0.1 (tests, demos)."""

    def __init__(self, witness: CosigningWitness, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_uvicorn_config(witness, host, port), "cosigning witness")
        self.witness = witness


def serve(witness: CosigningWitness, host: str, port: int) -> None:
    """Serve until interrupted (`rc-archive witness serve`)."""
    import uvicorn

    uvicorn.Server(_uvicorn_config(witness, host, port)).run()


def _uvicorn_config(witness: CosigningWitness, host: str, port: int) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        build_app(witness),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # the refusals and cosignatures are logged by the witness itself
        lifespan="off",
        timeout_keep_alive=30,
    )


# -- HTTP: the client --------------------------------------------------------------------------


def add_checkpoint_url(url: str) -> str:
    """The add-checkpoint endpoint of a witness's submission prefix (or of itself)."""
    url = url.rstrip("/")
    return url if url.endswith("/add-checkpoint") else url + "/add-checkpoint"


def submit_checkpoint(
    url: str,
    old_size: int,
    proof: Sequence[bytes],
    note: str,
    timeout: float = 10.0,
    *,
    witness: Verifier | None = None,
    client: httpx.Client | None = None,
) -> list[str]:
    """POST the checkpoint to the witness at `url` (its submission prefix); its cosignature
    lines (no newline).

    With `witness` (its vkey's Verifier) only that witness's lines are returned, each checked
    to verify on the checkpoint. Raises Conflict(current_size) on 409 (retry with a proof from
    that size), the matching WitnessRefusal on 400/403/404/422, WitnessUnavailable when the
    witness does not answer or answers otherwise, WitnessError on a 200 without a valid
    cosignature."""
    import httpx

    endpoint = add_checkpoint_url(url)
    body = format_add_checkpoint(old_size, proof, note)
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(endpoint, content=body)
        else:
            response = client.post(endpoint, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WitnessUnavailable(f"witness {endpoint}: no answer ({type(exc).__name__})") from None
    answer = response.text
    first = next((line.strip() for line in answer.splitlines() if line.strip()), "")[:300]
    if response.status_code == 409:
        if not _DECIMAL.fullmatch(answer.rstrip("\n")):
            raise WitnessUnavailable(f"witness {endpoint}: 409 without a tree size")
        raise Conflict(int(answer.rstrip("\n")))
    if response.status_code in _REFUSALS:
        raise _REFUSALS[response.status_code](
            f"witness {endpoint} refused ({response.status_code}): {first or 'no reason given'}"
        )
    if response.status_code != 200:
        raise WitnessUnavailable(f"witness {endpoint} answered {response.status_code}: {first}")
    return _cosignature_lines(endpoint, answer, note, witness)


def _cosignature_lines(
    endpoint: str, answer: str, note: str, witness: Verifier | None
) -> list[str]:
    if not answer.endswith("\n") or not answer.strip():
        raise WitnessError(f"witness {endpoint}: the answer is not signature lines")
    lines = answer[:-1].split("\n")
    try:
        signatures = [parse_signature_line(line) for line in lines]
    except NoteError as exc:
        raise WitnessError(
            f"witness {endpoint}: the answer is not signature lines ({exc})"
        ) from None
    if witness is None:
        return lines
    text, _ = split_note(note)
    mine = [
        line
        for line, sig in zip(lines, signatures, strict=True)
        if (sig.name, sig.key_id) == (witness.name, witness.key_id)
    ]
    if not mine:
        raise WitnessError(f"witness {endpoint}: no cosignature by {witness.name} in the answer")
    for line in mine:
        try:
            verify_cosignature(text, line, witness)
        except CosignatureError as exc:
            raise WitnessError(f"witness {endpoint}: {exc}") from None
    return mine
