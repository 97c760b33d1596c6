"""Steady-state crawling never trips the limit, and costs close to the floor.

Scaled down from RingCentral's 50 / 60 s to 20 / 2 s so the test takes seconds; the full-size
run is benchmarks/client_bench.py.
"""

from __future__ import annotations

import math
import threading
import time

from tests.ringcentral.support import crawl_ids

LIMIT = 20
WINDOW = 2.0


def _per_page_for(count: int, pages: int) -> int:
    return max(1, math.ceil(count / pages))


def test_sixty_requests_make_no_429_and_take_close_to_the_floor(sandbox_factory, make_client):
    sb = sandbox_factory(light_limit=LIMIT, window_seconds=WINDOW, penalty_seconds=WINDOW)
    source_id = sb.world.source_ids[0]
    per_page = _per_page_for(len(sb.world.content_ids(source_id)), 60)
    client = make_client(sb.env)
    client.login()
    started = time.monotonic()
    ids = crawl_ids(client, source_id, per_page=per_page)
    elapsed = time.monotonic() - started
    requests = client.stats.requests["Light"]
    assert set(ids) == sb.world.content_ids(source_id)
    assert requests >= 55
    assert sb.stats.count_429 == 0 and client.stats.count_429 == 0
    floor = requests / LIMIT * WINDOW
    # The first window is free of history, so even pacing can finish a little under the floor.
    assert floor * 0.85 <= elapsed <= floor * 1.15, (elapsed, floor)


def test_threads_share_one_budget(sandbox_factory, make_client) -> None:
    """Two threads, two clients of the same app: one limiter, still no 429."""
    sb = sandbox_factory(light_limit=LIMIT, window_seconds=WINDOW, penalty_seconds=WINDOW)
    clients = [make_client(sb.env), make_client(sb.env)]
    results: dict[int, list[str]] = {}

    def crawl(index: int) -> None:
        source_id = sb.world.source_ids[index]
        per_page = _per_page_for(len(sb.world.content_ids(source_id)), 20)
        results[index] = crawl_ids(clients[index], source_id, per_page=per_page)

    threads = [threading.Thread(target=crawl, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for index in range(2):
        assert set(results[index]) == sb.world.content_ids(sb.world.source_ids[index])
    assert sb.stats.count_429 == 0
