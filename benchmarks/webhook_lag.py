"""Webhook capture lag: content created at the sandbox -> event durable in the archive -> run
of its source requested by the `webhook_events` sensor.

The sandbox delivers each notification over HTTP to the real receiver (127.0.0.1), which writes
it to a local archive; the sensor is evaluated every `--interval` seconds (15 in production) on
a real Dagster instance. Persisted = the event file's mtime (written and fsynced by then).
Requested = the sensor tick whose run request covers the event.

    .venv/bin/python benchmarks/webhook_lag.py --events 300 --seconds 45 --sources 3

`--attachments` (default realistic, the sandbox's default) is the world's attachment profile;
the probes are new messages without files, so it only shapes the 500-content history.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time

import dagster as dg

from assets.resources import ArchiveResource
from assets.sensors import webhook_events
from benchmarks.harness import add_attachments_argument, percentile
from pipelines.archive.store import open_store
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.settings import Settings
from pipelines.webhooks.events import read_event
from pipelines.webhooks.planning import load_cursor
from pipelines.webhooks.receiver import ReceiverThread
from pipelines.webhooks.subscription import ensure_subscription
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

TOKEN = "bench-verification-token"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--interval", type=float, default=15.0, help="sensor interval (s)")
    add_attachments_argument(parser, default="realistic")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="webhook-lag-")
    archive_uri = os.path.join(tmp, "archive")
    store = open_store(archive_uri, Settings())
    cfg = SandboxConfig(
        seed=7,
        sources=args.sources,
        contents=500,
        light_limit=10_000,
        medium_limit=10_000,
        attachments=args.attachments,
    )
    sent: dict[str, float] = {}  # content id -> wall time just before it was created
    requested: dict[str, float] = {}  # event key -> wall time of the covering run request
    with SandboxServer(cfg) as sb, ReceiverThread(store, TOKEN) as receiver:
        with RingCentralClient(ClientSettings.from_env(sb.env)) as client:
            ensure_subscription(client, store, address=receiver.url, verification_token=TOKEN)
        sources = sb.world.source_ids
        stop = threading.Event()
        resources = {"archive": ArchiveResource(archive_uri=archive_uri)}
        sensor_seconds: list[float] = []

        def sensor_loop() -> None:
            cursor = None
            with dg.instance_for_test() as instance:
                while True:
                    finished = stop.wait(args.interval)
                    before = load_cursor(cursor)
                    started = time.time()
                    result = webhook_events(
                        dg.build_sensor_context(
                            instance=instance, cursor=cursor, resources=resources
                        )
                    )
                    done = time.time()
                    sensor_seconds.append(done - started)
                    if isinstance(result, dg.SensorResult) and result.cursor:
                        cursor = result.cursor
                        for request in result.run_requests or []:
                            source = request.partition_key
                            for key in store.list_after(
                                f"_events/{source}/",
                                f"_events/{source}/{before[source]}" if source in before else None,
                            ):
                                requested.setdefault(key, done)
                    if finished:
                        return

        ticker = threading.Thread(target=sensor_loop)
        ticker.start()
        gap = args.seconds / args.events
        rng = random.Random(7)
        for i in range(args.events):
            source = sources[rng.randrange(len(sources))]
            t0 = time.time()
            content_id = sb.world.add_content(source, body=f"lag probe {i}")
            sent[content_id] = t0
            time.sleep(rng.expovariate(1 / gap))
        sb.webhooks.wait_idle(30)
        time.sleep(args.interval + 1)  # one more tick covers the last events
        stop.set()
        ticker.join()

    persisted, to_run = [], []
    for key in store.list("_events/"):
        event = read_event(store, key)
        content_id = event["notification"]["body"]["resource"]["id"]
        if content_id not in sent:
            continue
        written = os.stat(store.uri_for(key)).st_mtime_ns / 1e9
        persisted.append(written - sent[content_id])
        if key in requested:
            to_run.append(requested[key] - sent[content_id])
    report = {
        "attachments": args.attachments,
        "events": len(sent),
        "persisted": len(persisted),
        "run_requested": len(to_run),
        "sensor_interval_s": args.interval,
        "sent_to_persisted_ms": {
            "p50": round(percentile(persisted, 0.5) * 1000, 1),
            "p95": round(percentile(persisted, 0.95) * 1000, 1),
            "max": round(max(persisted) * 1000, 1),
        },
        "sent_to_run_requested_s": {
            "p50": round(percentile(to_run, 0.5), 2),
            "p95": round(percentile(to_run, 0.95), 2),
            "max": round(max(to_run), 2),
        },
        "sensor_evaluation_ms_p95": round(percentile(sensor_seconds, 0.95) * 1000, 1),
        "sensor_ticks": len(sensor_seconds),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
