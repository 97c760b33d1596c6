"""`rc-archive witness keygen|serve`: a cosigning witness (c2sp.org/tlog-witness) for the
archive's transparency logs (pipelines/integrity/cosigning_witness.py).

Run by someone the archive's operators cannot reach: the witness cosigns a source log's
checkpoint only when it extends the last one it cosigned, so a rewritten history cannot get
its cosignature. The library is imported inside each handler (it loads the web server).
"""

from __future__ import annotations

import argparse

from cli.command import CommandGroup, Subcommand
from cli.context import Context
from cli.errors import EXIT_OK, UsageError
from cli.output import log_to_stderr

# -- witness keygen -----------------------------------------------------------------------------


def _keygen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name", required=True, help="the witness's name, e.g. witness.example.com/w1"
    )
    parser.add_argument(
        "--out", required=True, metavar="PATH", help="signer key file (PATH.vkey: verifier key)"
    )


def _keygen(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.integrity.signed_note import (
        COSIGNATURE_V1,
        KeyFormatError,
        generate_signer,
        write_key_pair,
    )

    try:
        signer = generate_signer(args.name, COSIGNATURE_V1)
    except KeyFormatError as exc:
        raise UsageError(f"--name: {exc}") from None
    private_path, public_path = write_key_pair(args.out, signer)
    print(f"signer key   {private_path} (mode 0600: it never leaves the witness host)")
    print(f"verifier key {public_path} (give it to whoever checks cosignatures)")
    print(signer.verifier().vkey())
    return EXIT_OK


KEYGEN = Subcommand(
    name="keygen",
    help="create a witness key (Ed25519 cosignature/v1)",
    add_arguments=_keygen_arguments,
    run=_keygen,
)

# -- witness serve ------------------------------------------------------------------------------


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, metavar="PATH", help="the witness's signer key")
    parser.add_argument(
        "--state", required=True, metavar="DIR", help="where the cosigned checkpoints are kept"
    )
    parser.add_argument(
        "--log",
        required=True,
        action="append",
        metavar="VKEY",
        help="a log's verifier key, or a file holding it (repeatable): checkpoints of origin "
        "NAME or NAME/... must be signed by it",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8771, help="port to listen on (8771)")


def _serve(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.integrity.cosigning_witness import CosigningWitness, serve
    from pipelines.integrity.signed_note import (
        COSIGNATURE_V1,
        ED25519,
        KeyFormatError,
        read_signer_key,
        read_verifier_key,
    )

    try:
        signer = read_signer_key(args.key)
    except KeyFormatError as exc:
        raise UsageError(f"--key: {exc}") from None
    if signer.sig_type == ED25519:
        # A plain note key (as Go's note.GenerateKey writes): the same key as a cosigner.
        signer = signer.retyped(COSIGNATURE_V1)
    logs = {}
    for value in args.log:
        try:
            verifier = read_verifier_key(value)
        except KeyFormatError as exc:
            raise UsageError(f"--log: {exc}") from None
        if verifier.sig_type != ED25519:
            raise UsageError(f"--log {verifier.name}: a log key is an Ed25519 note key (0x01)")
        if verifier.name in logs and logs[verifier.name] != verifier:
            raise UsageError(f"--log {verifier.name}: two different keys of one name")
        logs[verifier.name] = verifier
    witness = CosigningWitness(args.state, signer, logs)
    log_to_stderr("pipelines.integrity.cosigning_witness", "%(asctime)s %(message)s")
    print(f"witness {witness.verifier.vkey()}", flush=True)
    print(
        f"cosigning checkpoints of {', '.join(sorted(logs))} on "
        f"http://{args.host}:{args.port}/add-checkpoint, state in {args.state} (Ctrl-C stops)",
        flush=True,
    )
    serve(witness, args.host, args.port)
    return EXIT_OK


SERVE = Subcommand(
    name="serve",
    help="cosign the logs' checkpoints over HTTP (c2sp.org/tlog-witness)",
    add_arguments=_serve_arguments,
    run=_serve,
)

WITNESS = CommandGroup(
    name="witness",
    help="A cosigning witness for transparency logs: keygen, serve.",
    example="rc-archive witness serve --key keys/witness.key --state witness-state "
    "--log archive.example.com/log+1a2b3c4d+AX...",
    subcommands=(KEYGEN, SERVE),
)

COMMANDS = (WITNESS,)
