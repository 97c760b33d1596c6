"""Proofs that the archive is whole: `verify` (every file, chain, witness and certificate),
`keygen`, `attest` (a signed certificate of what a month holds) and `prove` (one message's
versions against a certificate).

The library is imported inside each handler: it loads pyarrow and pandas (a second or more),
which `--help`, a typo or another command must not pay for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.arguments import add_witness_option, sources_or_archived
from cli.command import Command
from cli.context import Context
from cli.errors import EXIT_OK, EXIT_TAMPERING, UsageError
from pipelines import settings as names

if TYPE_CHECKING:
    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import ObjectStore
    from pipelines.governance.retention import RetentionPolicy

# -- verify -------------------------------------------------------------------------------------


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    add_witness_option(parser)
    parser.add_argument(
        "--certificate",
        action="append",
        metavar="CERT.json",
        help="also prove the archive still holds what this certificate certified (repeatable)",
    )
    parser.add_argument("--public-key", metavar="KEY.pub", help="the certificates' key")
    parser.add_argument(
        "--log-key",
        metavar="KEY.pub",
        help=f"the key the cosigned checkpoints are signed with (default "
        f"{names.ARCHIVE_LOG_PUBLIC_KEY}); with {names.ARCHIVE_COSIGNERS} set, verify requires "
        "each source's newest checkpoint cosigned by the quorum and its tree in the archive",
    )


def _verify(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.archive.verify import verify
    from pipelines.governance.holds import HoldRegister
    from pipelines.integrity.witness import compare_with_witness
    from pipelines.webhooks.events import verify_events

    store = ctx.store
    witness_uri = args.witness or (ctx.settings.witness_uri or "")
    certificates = _verify_certificates(args, store)  # refusals end here, before the walk
    witness = ctx.witness_to_compare(witness_uri)  # fails closed: missing, empty, unreadable
    report = verify(store, retention=_retention_in_force(ctx), holds=HoldRegister)
    if witness is not None:
        report.findings.extend(compare_with_witness(store, witness))
    report.findings.extend(verify_events(store, witness))  # the webhook event log
    for check in certificates:
        report.findings.extend(check.findings)
    cosigned = _check_cosigned(ctx, args, store)
    report.findings.extend(cosigned)
    report.findings.sort(key=lambda f: (not f.tampering, f.kind, f.key))
    print(report.summary())
    if witness_uri:
        print(f"compared with witness {witness_uri}")
    elif not certificates:
        print(
            f"no witness ({names.ARCHIVE_WITNESS_URI} or --witness): verify cannot detect "
            "deleted history (truncation, a removed source) or a rewritten chain"
        )
    transparency = ctx.settings.transparency
    if transparency.cosigners:
        print(
            f"checked each source's newest checkpoint: {transparency.required} of "
            f"{len(transparency.cosigners)} witness cosignature(s) required"
        )
    for check in certificates:
        body = check.body
        print(
            f"certificate {body['source_id']} {body['period']} (issued {body['issued_at']}): "
            f"{'holds' if check.ok else 'CHANGED'}; certified tree {body['merkle']['tree_size']}"
            f" versions, today {check.tree_size}"
        )
        print(f"  certified {reconcile_line(body.get('reconcile'))}")
    if report.ok:
        return EXIT_OK
    tampering = [f for f in report.findings if f.tampering]
    kinds = sorted({f.kind for f in tampering})
    print(
        f"rc-archive verify: TAMPERING FOUND: {len(tampering)} finding(s) "
        f"({', '.join(kinds)}) in {report.store}",
        file=sys.stderr,
    )
    return EXIT_TAMPERING


VERIFY = Command(
    name="verify",
    help="Check every committed file and the manifest chain.",
    example="rc-archive verify",
    add_arguments=_verify_arguments,
    run=_verify,
)


def _check_cosigned(ctx: Context, args: argparse.Namespace, store: ObjectStore) -> list[Any]:
    """The cosigned checkpoints against the archive, when witnesses are configured (or
    --log-key is given); none otherwise."""
    transparency = ctx.settings.transparency
    key_path = args.log_key or transparency.log_public_key
    if not transparency.cosigners and not args.log_key:
        return []
    if not key_path:
        raise UsageError(
            f"{names.ARCHIVE_COSIGNERS} is set: verify needs the checkpoints' public key "
            f"(--log-key KEY.pub or {names.ARCHIVE_LOG_PUBLIC_KEY})"
        )
    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.certificate import load_public_key
    from pipelines.integrity.transparency import check_checkpoints, log_verifier, parse_cosigners

    cosigners = parse_cosigners(transparency.cosigners, names.ARCHIVE_COSIGNERS)
    log = log_verifier(transparency.log_name, load_public_key(key_path))
    return check_checkpoints(
        Ledger(store), log, cosigners, transparency.required, timeout=ctx.settings.network.read
    )


def _retention_in_force(ctx: Context) -> RetentionPolicy | None:
    """ARCHIVE_RETENTION_CLASSES as a RetentionPolicy (None when unset): the floor verify
    holds each disposition's retention class to."""
    path = ctx.settings.retention_classes_path or ""
    if not path:
        return None
    from pipelines.governance.retention import load_retention

    return load_retention(path)


def _verify_certificates(args: argparse.Namespace, store: ObjectStore) -> list[Any]:
    """Each --certificate checked against the archive (signature first: a refusal is one
    line, exit 3 for a bad signature, 2 for a certificate of another archive)."""
    if not args.certificate:
        return []
    if not args.public_key:
        raise UsageError("--certificate needs --public-key KEY.pub (the key it was signed with)")
    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.certificate import (
        load_certificate,
        load_public_key,
        verify_certificate,
    )

    public_key = load_public_key(args.public_key)
    ledger = Ledger(store)
    return [
        verify_certificate(ledger, load_certificate(path), public_key) for path in args.certificate
    ]


def reconcile_line(fact: dict[str, Any] | None) -> str:
    """A certificate's reconciliation against the API, in one line."""
    if not fact:
        return "reconcile: not recorded (certificate from an earlier release)"
    if not fact["performed"]:
        return f"reconcile: not performed ({fact['reason']})"
    verdict = "complete" if fact["complete"] else "NOT COMPLETE"
    return (
        f"reconcile at {fact['at']}: {verdict}; API listed {fact['api_ids_checked']} ids, "
        f"{fact['missing']} missing from the archive"
    )


# -- keygen -------------------------------------------------------------------------------------


def _keygen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="KEY", help="private key (KEY.pub)")


def _keygen(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.integrity.certificate import keygen

    # `--out keys/attest.pem` in a fresh checkout: the folder is made, private to its owner.
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), mode=0o700, exist_ok=True)
    private_path, public_path = keygen(args.out)
    from pipelines.integrity.certificate import load_public_key
    from pipelines.integrity.transparency import log_verifier

    log_name = ctx.settings.transparency.log_name
    vkey = log_verifier(log_name, load_public_key(public_path)).vkey()
    vkey_path = f"{public_path}.vkey"
    with open(vkey_path, "x", encoding="utf-8") as handle:
        handle.write(vkey + "\n")
    print(f"private key {private_path} (mode 0600: keep it off the archive host)")
    print(f"public key  {public_path} (give it to whoever verifies certificates)")
    print(f"log key     {vkey_path}: {vkey}")
    print(f"            (the checkpoints' verifier key as {names.ARCHIVE_LOG_NAME}={log_name})")
    return EXIT_OK


KEYGEN = Command(
    name="keygen",
    help="Create an Ed25519 key pair to sign certificates.",
    example="rc-archive keygen --out keys/attest.pem",
    add_arguments=_keygen_arguments,
    run=_keygen,
)

# -- attest -------------------------------------------------------------------------------------


def _attest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period", required=True, metavar="YYYY-MM", help="the month (UTC) to certify"
    )
    parser.add_argument("--source", action="append", help="source id (repeatable)")
    parser.add_argument("--key", required=True, metavar="KEY", help="Ed25519 private key")
    parser.add_argument("--out", required=True, help="certificate file (one source) or directory")
    parser.add_argument(
        "--no-reconcile",
        action="store_true",
        help="do not reconcile against the API (the certificate then says so)",
    )


def _attest(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.certificate import attest, load_private_key
    from pipelines.integrity.report import write_html

    key = load_private_key(args.key)
    ledger = Ledger(ctx.store)
    sources = sources_or_archived(ledger, args.source)
    if not sources:
        raise UsageError("no archived source to attest: pass --source ID")
    out = args.out
    to_dir = out.endswith(os.sep) or os.path.isdir(out) or len(sources) > 1
    if to_dir:
        os.makedirs(out, exist_ok=True)
    facts = _reconcile_for_certificates(ctx, ledger, sources, skip=args.no_reconcile)
    checkpoints = publish_checkpoints(ctx, Ledger(ctx.writable_store), sources, args.key)
    for source_id in sources:
        signed = attest(ledger, source_id, args.period, key, reconcile=facts[source_id])
        path = os.path.join(out, f"{source_id}-{args.period}.json") if to_dir else out
        with open(path, "x", encoding="utf-8") as handle:
            json.dump(signed, handle, indent=1, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
        body = signed["certificate"]
        counts = body["counts"]
        print(
            f"{path}: source {source_id} {args.period}: {counts['contents']['period']} contents "
            f"({counts['contents']['total']} in total), Merkle tree "
            f"{body['merkle']['tree_size']} versions, root {body['merkle']['root'][:16]}…"
        )
        print(f"  {reconcile_line(body['reconcile'])}")
        print(f"  report {write_html(signed, path)}")
        published = checkpoints[source_id]
        checkpoint_path = os.path.splitext(path)[0] + ".checkpoint"
        with open(checkpoint_path, "x", encoding="utf-8") as handle:
            handle.write(published.note)
        by = ", ".join(published.cosigned_by) or "no witness configured"
        print(
            f"  checkpoint {checkpoint_path}: {published.checkpoint.size} versions, "
            f"cosigned by {by}"
        )
    return EXIT_OK


ATTEST = Command(
    name="attest",
    help="Write a signed certificate (and an HTML report) of what the archive holds per source.",
    example="rc-archive attest --period 2026-11 --key keys/attest.pem --out certs/",
    add_arguments=_attest_arguments,
    run=_attest,
)


def _reconcile_for_certificates(
    ctx: Context, ledger: Ledger, sources: list[str], *, skip: bool
) -> dict[str, dict[str, Any]]:
    """A full reconciliation of each source against the API now, for its certificate; none,
    said plainly in the certificate, with --no-reconcile or when no API credentials are set.
    Set but wrong credentials, or an API that is down, end the command (one line)."""
    from pipelines.integrity.certificate import no_reconcile, reconcile_fact
    from pipelines.ringcentral import RingCentralClient
    from pipelines.sync.reconcile import reconcile_source

    credentials = (names.RC_APP_CLIENT_ID, names.RC_APP_CLIENT_SECRET, names.RC_USER_JWT)
    if skip:
        return {source_id: no_reconcile("--no-reconcile was given") for source_id in sources}
    if not any(ctx.env.get(name) for name in credentials):
        reason = f"no API credentials were set ({', '.join(credentials)})"
        print(f"rc-archive attest: not reconciled against the API: {reason}", file=sys.stderr)
        return {source_id: no_reconcile(reason) for source_id in sources}
    facts: dict[str, dict[str, Any]] = {}
    with RingCentralClient(ctx.client_settings()) as client:
        for source_id in sources:
            report = reconcile_source(client, ledger, source_id, mode="full")
            facts[source_id] = reconcile_fact(report, datetime.now(UTC))
    return facts


# -- prove --------------------------------------------------------------------------------------


def _prove_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content_id", help="the message's id (messages.id)")
    parser.add_argument(
        "--certificate", required=True, metavar="CERT.json", help="the certificate to prove against"
    )
    parser.add_argument("--public-key", metavar="KEY.pub", help="check the signature first")


def _prove(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.archive.ledger import Ledger
    from pipelines.governance.access_trail import AccessTrail
    from pipelines.integrity.certificate import load_certificate, load_public_key
    from pipelines.integrity.prove import prove
    from pipelines.query.access_logged import query_fields, run_logged

    store = ctx.store
    details = {
        "arguments": {"content_id": args.content_id, "certificate": args.certificate},
        **query_fields(None, {"content_id": args.content_id}),
    }

    def work() -> tuple[str, dict[str, Any]]:
        public_key = load_public_key(args.public_key) if args.public_key else None
        signed = load_certificate(args.certificate)
        proof = prove(Ledger(store), args.content_id, signed, public_key)
        text = json.dumps(proof, indent=1, sort_keys=True, ensure_ascii=False)
        return text, {"rows": len(proof.get("versions") or [])}

    print(run_logged(AccessTrail(store, ctx.settings), "prove", details, work))
    return EXIT_OK


PROVE = Command(
    name="prove",
    help="Print a message's version hashes with proofs against a certificate.",
    example="rc-archive prove 65c40163c092e4000768f688 --certificate cert.json > proof.json",
    add_arguments=_prove_arguments,
    run=_prove,
)

# -- cosign -------------------------------------------------------------------------------------


def _cosign_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, metavar="KEY", help="Ed25519 private key")
    parser.add_argument("--source", action="append", help="source id (repeatable)")


def publish_checkpoints(
    ctx: Context, ledger: Ledger, sources: list[str], key_path: str
) -> dict[str, Any]:
    """Each source's checkpoint signed with the key, cosigned by ARCHIVE_COSIGNERS (the
    quorum required) and stored in the archive: source id -> Published."""
    from pipelines.integrity.certificate import load_private_key
    from pipelines.integrity.signed_note import signer_from_ed25519
    from pipelines.integrity.transparency import parse_cosigners, publish_checkpoint

    transparency = ctx.settings.transparency
    signer = signer_from_ed25519(transparency.log_name, load_private_key(key_path))
    cosigners = parse_cosigners(transparency.cosigners, names.ARCHIVE_COSIGNERS)
    timeout = ctx.settings.network.read
    return {
        source_id: publish_checkpoint(
            ledger, source_id, signer, cosigners, transparency.required, timeout=timeout
        )
        for source_id in sources
    }


def _cosign(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.archive.ledger import Ledger

    ledger = Ledger(ctx.writable_store)
    sources = sources_or_archived(ledger, args.source)
    if not sources:
        raise UsageError("no archived source to checkpoint: pass --source ID")
    for source_id, published in publish_checkpoints(ctx, ledger, sources, args.key).items():
        where = published.key or "already stored"
        by = ", ".join(published.cosigned_by) or "no witness configured"
        print(
            f"source {source_id}: checkpoint {published.checkpoint.size} versions, cosigned by "
            f"{by}; {where}"
        )
    return EXIT_OK


COSIGN = Command(
    name="cosign",
    help="Publish each source's signed checkpoint, cosigned by the configured witnesses.",
    example="rc-archive cosign --key keys/attest.pem",
    add_arguments=_cosign_arguments,
    run=_cosign,
)

COMMANDS = (VERIFY, KEYGEN, ATTEST, PROVE, COSIGN)
