"""`python -m sandbox serve`: run the local RingCentral API until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.config import ATTACHMENT_PROFILES, SandboxConfig
from sandbox.server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the sandbox API on 127.0.0.1")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 = any free port")
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--sources", type=int, default=3)
    serve.add_argument("--contents", type=int, default=2000)
    serve.add_argument("--days", type=float, default=90.0)
    serve.add_argument(
        "--now-ms", type=int, help="end of the generated history, epoch ms (default: now)"
    )
    serve.add_argument("--light-limit", type=int, default=50)
    serve.add_argument("--medium-limit", type=int, default=40)
    serve.add_argument("--auth-limit", type=int, default=5)
    serve.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    serve.add_argument("--penalty", type=float, default=60.0, help="429 penalty, seconds")
    serve.add_argument("--token-ttl", type=float, default=3600.0)
    serve.add_argument("--field-mode", choices=["live", "spec2024"], default="live")
    serve.add_argument("--no-quirks", action="store_true")
    serve.add_argument("--live-rate", type=float, default=0.0, help="live events per second")
    serve.add_argument(
        "--attachment-links",
        choices=["rotating", "stable"],
        default="rotating",
        help="rotating (as RingCentral): a new signed link with its own expiry on every "
        "listing, GET and webhook; stable: the same link until they are all re-issued",
    )
    serve.add_argument(
        "--attachment-link-ttl",
        type=float,
        default=86400.0,
        help="seconds an attachment link stays valid after it was served",
    )
    serve.add_argument(
        "--attachments",
        choices=ATTACHMENT_PROFILES,
        default="realistic",
        help="files the generated history carries: realistic (8%% of messages, real sizes, "
        "~1.1 GB per 8,000 messages), light (1%%, none over 256 KiB), none",
    )
    serve.add_argument("--env-file", help="also write the RC_* settings to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = SandboxConfig(
        seed=args.seed,
        sources=args.sources,
        contents=args.contents,
        days=args.days,
        now_ms=args.now_ms,
        light_limit=args.light_limit,
        medium_limit=args.medium_limit,
        auth_limit=args.auth_limit,
        window_seconds=args.window,
        penalty_seconds=args.penalty,
        token_ttl_seconds=args.token_ttl,
        field_mode=args.field_mode,
        quirks=not args.no_quirks,
        live_rate=args.live_rate,
        attachment_links=args.attachment_links,
        attachment_link_ttl_seconds=args.attachment_link_ttl,
        attachments=args.attachments,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with SandboxServer(cfg, host=args.host, port=args.port) as server:
        lines = [f"{key}={value}" for key, value in server.env.items()]
        if args.env_file:
            with open(args.env_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        print(f"# sandbox serving {server.world.row_count} contents at {server.url}; Ctrl-C stops",
              file=sys.stderr, flush=True)  # fmt: skip
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
