"""Sandbox benchmark: contents served per second (1000-record pages over real HTTP) and the
start-up time + peak RSS of a 1,000,000-content world over 10 sources.

`--attachments` (default realistic, the sandbox's own default) picks the generated history's
attachment profile: listed files are signed links in every page, and they cost serving time.

Run: .venv/bin/python benchmarks/sandbox_bench.py [--contents 1000000] [--pages 200]
     [--attachments none|light|realistic]
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx
import psutil

from benchmarks.harness import add_attachments_argument
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class PeakRss:
    """Samples this process's RSS every 20 ms; the world is built in-process."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contents", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--pages", type=int, default=200, help="1000-record pages to fetch")
    add_attachments_argument(parser, default="realistic")
    args = parser.parse_args()
    cfg = SandboxConfig(seed=1, sources=args.sources, contents=args.contents,
                        light_limit=1_000_000, auth_limit=1000, window_seconds=60.0,
                        attachments=args.attachments)  # fmt: skip
    with PeakRss() as rss:
        started = time.perf_counter()
        server = SandboxServer(cfg).start()
        startup = time.perf_counter() - started
        try:
            env = server.env
            token = httpx.post(
                f"{server.url}/restapi/oauth/token",
                data={"grant_type": JWT_GRANT, "assertion": env["RC_USER_JWT"]},
                auth=(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]),
            ).json()["access_token"]
            served = 0
            with httpx.Client(base_url=server.url, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
                page_token = None
                source_index = 0
                began = time.perf_counter()
                for _ in range(args.pages):
                    params = {"sourceIds": server.world.source_ids[source_index],
                              "orderBy": "+creationTime", "perPage": 1000}  # fmt: skip
                    if page_token:
                        params["pageToken"] = page_token
                    body = client.get("/cx/social-messaging/v1/contents", params=params)
                    body = body.raise_for_status().json()
                    served += len(body["records"])
                    page_token = body["paging"].get("nextPageToken")
                    if not page_token:
                        source_index = (source_index + 1) % len(server.world.source_ids)
                elapsed = time.perf_counter() - began
        finally:
            server.stop()
    print(f"world: {args.contents:,} contents over {args.sources} readable sources (+1 hidden), "
          f"attachments: {args.attachments}")  # fmt: skip
    print(f"start-up (generate + index + bind): {startup:.2f} s "
          f"(world build {server.build_seconds:.2f} s)")  # fmt: skip
    print(f"peak RSS: {rss.peak / 2**20:,.0f} MiB")
    rate = served / elapsed
    print(f"served {served:,} contents in {elapsed:.2f} s over HTTP in 1000-record pages: "
          f"{rate:,.0f} contents/s (client in the same process, one connection)")  # fmt: skip


if __name__ == "__main__":
    main()
