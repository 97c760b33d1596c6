"""Attachment capture: throughput over the sandbox (attachments/s, MB/s) and peak RSS while one
big file (default 200 MB) is downloaded, hashed and stored (it must stay flat: streamed).

    PYTHONPATH=. python benchmarks/attachments.py [--big-mb 200] [--contents 2000]
        [--attachments realistic|light|none]

`--attachments` (default realistic: 8% of messages with files of real-world sizes) is the
profile of the corpus measured first; light is 1% of messages, none over 256 KiB; none leaves
the corpus without files (0 downloaded). The big file is measured on a message added with
files whatever the profile, so that figure does not depend on it.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from benchmarks.harness import add_attachments_argument
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.attachments.sync import AttachmentsSyncSettings, sync_attachments
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.sync.contents import sync_contents
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--contents", type=int, default=2000)
    add_attachments_argument(parser, default="realistic")
    args = parser.parse_args()
    cfg = SandboxConfig(
        seed=11,
        sources=1,
        contents=args.contents,
        light_limit=10_000,
        attachments=args.attachments,
    )
    settings = AttachmentsSyncSettings(downloads_per_second=0)
    with SandboxServer(cfg) as sb, tempfile.TemporaryDirectory() as root:
        source_id = sb.world.source_ids[0]
        ledger = Ledger(LocalStore(root))
        with RingCentralClient(ClientSettings.from_env(sb.env)) as client:
            sync_contents(client, ledger, source_id, run_id="bench")
            started = time.perf_counter()
            report = sync_attachments(client, ledger, source_id, run_id="bench", settings=settings)
            seconds = time.perf_counter() - started
            mb = report.bytes_downloaded / 1e6
            print(
                f"corpus (attachments: {args.attachments}, {args.contents:,} contents): "
                f"{report.downloaded} attachments, {mb:.1f} MB in {seconds:.2f} s: "
                f"{report.downloaded / seconds:.1f} attachments/s, {mb / seconds:.1f} MB/s"
            )
            # A new message with files (kept under every profile), its first file made big
            # before anything read it.
            big_id = sb.world.add_content(source_id, body="the big one", with_attachments=True)
            attachment_id = sb.world.content_json(big_id)["attachments"][0]["id"]
            sb.world.set_attachment(attachment_id, size=args.big_mb * 1_000_000)
            sync_contents(client, ledger, source_id, run_id="bench-2")
            rss_before = peak_rss_mb()
            started = time.perf_counter()
            report = sync_attachments(
                client, ledger, source_id, run_id="bench-2", settings=settings
            )
            seconds = time.perf_counter() - started
            mb = report.bytes_downloaded / 1e6
            print(
                f"big file: {mb:.0f} MB in {seconds:.2f} s ({mb / seconds:.1f} MB/s); peak RSS "
                f"{rss_before:.0f} MB before, {peak_rss_mb():.0f} MB after (sandbox in-process)"
            )


if __name__ == "__main__":
    main()
