"""Archive throughput: normalise + validate + commit N realistic contents to a local store.

Records are generated in API-sized pages of 1000 (never all in memory) and fed to the same
ContentsBatch the pipeline uses, committed in batches of 20,000 (the pipeline's default), and the
report gives records/s (target >= 50,000/s), peak RSS (target < 500 MB, flat in N), bytes per
record on disk and the file count.

    .venv/bin/python benchmarks/archive_bench.py --n 200000
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from benchmarks.harness import add_attachments_argument, require_no_attachments
from pipelines.archive.committer import BackgroundCommitter
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.process_memory import (
    tune_garbage_collection,
    tune_process_memory,
)
from pipelines.sync.contents import ContentsSyncSettings
from schemas.contents import ContentsBatch
from schemas.ids import source_stream

SOURCE_ID = "65c3fdd9527bf900079cefcb"
PAGE_RECORDS = 1000  # the API's largest page
WORDS = [
    "great",
    "thanks",
    "order",
    "refund",
    "delivery",
    "please",
    "hello",
    "when",
    "where",
    "package",
    "👍",
    "merci",
]


def generate(n: int, chunk: int, seed: int = 7) -> Iterator[list[dict]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for offset in range(0, n, chunk):
        records = []
        for i in range(offset, min(n, offset + chunk)):
            created = start + timedelta(seconds=i * 7)
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
            inbound = rng.random() < 0.6
            records.append(
                {
                    "id": f"{i:024x}",
                    "creationTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "lastModifiedTime": (created + timedelta(minutes=5)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "authorIdentityId": f"{rng.randrange(5000):024x}",
                    "body": body,
                    "bodyInputFormat": "Text",
                    "categoryIds": [],
                    "creatorId": None if inbound else str(63317565000 + rng.randrange(50)),
                    "interventionId": None,
                    "language": "En",
                    "remotelyDeleted": False,
                    "channelId": SOURCE_ID,
                    "channelUri": None,
                    "synchronizationStatus": "Success",
                    "status": "Replied" if inbound else "UserReply",
                    "threadId": f"{i // 10:024x}",
                    "inReplyToContentId": None if inbound else f"{i - 1:024x}",
                    "inReplyToAuthorIdentityId": None,
                    "attachments": [],
                    "autoSubmitted": False,
                    "identityGroupId": f"{rng.randrange(5000):024x}",
                    "bodyFormatted": {"Text": body, "Html": f"<p>{body}</p>"},
                    "contextData": None,
                    "createdFrom": "Synchronizer" if inbound else "Api",
                    "public": False,
                    "published": True,
                    "channelType": "WhatsApp",
                    "contentDirection": "Incoming" if inbound else "Outgoing",
                    "firstInThread": i % 10 == 0,
                    "type": "Message",
                    "synchronizationError": None,
                    "capabilitiesSupported": ["template", "list"],
                }
            )
        yield records


def _kernel_peak_rss() -> int:
    """The kernel's high-water mark of this process (bytes): catches peaks inside a batch,
    which sampling RSS between batches would miss."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=ContentsSyncSettings.batch_records)
    add_attachments_argument(parser, default="none")
    args = parser.parse_args()
    require_no_attachments(parser, args.attachments)
    # As every pipeline process does (assets/definitions.py).
    tune_process_memory()
    tune_garbage_collection()
    process = psutil.Process()
    peak_rss = process.memory_info().rss
    generate_seconds = 0.0
    archive_seconds = 0.0
    generate_cpu_seconds = 0.0
    with tempfile.TemporaryDirectory() as root:
        ledger = Ledger(LocalStore(root))
        stream = source_stream(SOURCE_ID)
        batch = ContentsBatch(source_id=SOURCE_ID)
        pages = generate(args.n, PAGE_RECORDS)
        last_time = ""
        # As the pipeline does: pages are converted as they arrive, and each batch is committed
        # on the committer's thread while the next one is converted.
        cpu_start = time.process_time()  # every thread of the process
        with BackgroundCommitter() as committer:
            while True:
                t0, g0 = time.perf_counter(), time.thread_time()
                records = next(pages, None)
                generate_seconds += time.perf_counter() - t0
                generate_cpu_seconds += time.thread_time() - g0
                t0 = time.perf_counter()
                if records is not None:
                    batch.add(records)
                    last_time = records[-1]["creationTime"]
                if batch.records and (records is None or batch.records >= args.batch):
                    normalised = batch.take(
                        run_id="bench", batch_id="", archived_at=datetime.now(UTC)
                    )
                    committer.submit(
                        functools.partial(
                            ledger.commit_batch,
                            "contents",
                            stream,
                            {"contents": normalised.table, "quarantine": normalised.quarantine},
                            cursor={"high_water_time": last_time},
                            run_id="bench",
                        )
                    )
                    del normalised
                if records is None:
                    committer.wait()
                archive_seconds += time.perf_counter() - t0
                peak_rss = max(peak_rss, process.memory_info().rss, _kernel_peak_rss())
                if records is None:
                    break
                del records
        archive_cpu_seconds = time.process_time() - cpu_start - generate_cpu_seconds
        files = [p for p in Path(root).rglob("*") if p.is_file()]
        data_files = [p for p in files if p.suffix == ".parquet"]
        data_bytes = sum(os.path.getsize(p) for p in data_files)
        rows = sum(f.rows for f in ledger.committed_files("contents", stream))
    print("attachments       none (generated records list no files)")
    print(f"records           {args.n:,} (committed rows {rows:,})")
    print(f"archive time      {archive_seconds:.1f} s (normalise + validate + write + commit)")
    print(f"records/s         {args.n / archive_seconds:,.0f}  (target >= 50,000)")
    print(
        f"archive CPU time  {archive_cpu_seconds:.1f} s, all threads "
        f"({args.n / archive_cpu_seconds:,.0f} records per CPU-second; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"generation time   {generate_seconds:.1f} s (not counted)")
    print(f"peak RSS          {peak_rss / 2**20:,.0f} MB  (target < 500 MB)")
    print(f"bytes/record      {data_bytes / max(rows, 1):,.1f}  ({data_bytes / 2**20:,.1f} MB)")
    print(f"files             {len(data_files)} parquet, {len(files)} objects in all")


if __name__ == "__main__":
    main()
