"""RingCentral webhooks (docs/webhooks.md): `receive` stores each notification in the archive's
event log; `subscribe` creates, renews or re-creates the subscription that sends them.

The library is imported inside each handler (it loads pyarrow, pandas and the web server).
"""

from __future__ import annotations

import argparse

from cli.command import Command
from cli.context import Context
from cli.errors import EXIT_OK, UsageError
from cli.output import log_to_stderr
from pipelines import settings as names

# -- receive ------------------------------------------------------------------------------------


def _receive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    parser.add_argument("--path", default="/", help="URL path RingCentral POSTs to (/)")


def _receive(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.webhooks.events import configured_witness
    from pipelines.webhooks.receiver import build_app, serve

    token = ctx.env.get(names.RC_WEBHOOK_VERIFICATION_TOKEN, "")
    if not token:
        raise UsageError(
            f"{names.RC_WEBHOOK_VERIFICATION_TOKEN} is not set: the secret `rc-archive "
            "subscribe` gives RingCentral, checked on every notification"
        )
    store = ctx.writable_store
    witness = configured_witness(ctx.settings)  # each event witnessed before its 200
    # One line per event stored, refused or not stored (event name, source, key; no body).
    log_to_stderr("pipelines.webhooks.receiver", "%(asctime)s %(message)s")
    print(
        f"receiving webhooks on http://{args.host}:{args.port}{args.path} into "
        f"{store.describe()}{f', witnessed in {witness.describe()}' if witness else ''} "
        "(Ctrl-C stops)",
        flush=True,
    )
    serve(build_app(store, token, path=args.path, witness=witness), args.host, args.port)
    return EXIT_OK


RECEIVE = Command(
    name="receive",
    help="Receive RingCentral webhooks: each notification is stored in the archive's event log.",
    example="rc-archive receive --host 0.0.0.0 --port 8080  (behind an https proxy)",
    add_arguments=_receive_arguments,
    run=_receive,
)

# -- subscribe ----------------------------------------------------------------------------------


def _subscribe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="the receiver's public URL; default RC_WEBHOOK_ADDRESS")
    parser.add_argument("--renew", action="store_true", help="renew even if not due yet")


def _subscribe(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.ringcentral import RingCentralClient
    from pipelines.webhooks.subscription import ensure_subscription

    address = args.address or (ctx.settings.webhook_address or "")
    token = ctx.env.get(names.RC_WEBHOOK_VERIFICATION_TOKEN, "")
    if not address:
        raise UsageError(f"no address: set {names.RC_WEBHOOK_ADDRESS} or pass --address")
    if not token:
        raise UsageError(f"{names.RC_WEBHOOK_VERIFICATION_TOKEN} is not set: choose a secret")
    client_settings = ctx.client_settings()
    store = ctx.writable_store
    with RingCentralClient(client_settings) as client:
        result = ensure_subscription(
            client, store, address=address, verification_token=token, force_renew=args.renew
        )
    sub = result.subscription or {}
    print(
        f"{result.action}: subscription {sub.get('id')} {sub.get('status')}, expires "
        f"{sub.get('expirationTime')} ({result.reason})"
    )
    return EXIT_OK


SUBSCRIBE = Command(
    name="subscribe",
    help="Create, renew or re-create the webhook subscription (RC_WEBHOOK_ADDRESS).",
    example="RC_WEBHOOK_ADDRESS=https://archive.example.com/ rc-archive subscribe",
    add_arguments=_subscribe_arguments,
    run=_subscribe,
)

COMMANDS = (RECEIVE, SUBSCRIBE)
