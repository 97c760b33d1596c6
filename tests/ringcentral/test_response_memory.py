"""A response the transport hands back is freed by reference counting, not by the collector.

Why it matters: a crawl reads ~1 MB a page, and a run collects cyclic garbage rarely
(pipelines/process_memory.py); a response kept alive by a reference cycle held its body until
the next full collection, ~18 MB per 19,000 records.
"""

from __future__ import annotations

import gc
import json
import weakref

from pipelines.ringcentral import endpoints
from pipelines.ringcentral.stats import ClientStats
from pipelines.ringcentral.transport import Transport
from tests.ringcentral.support import client_settings


def test_a_response_is_freed_once_dropped_and_still_reads_the_same(sandbox) -> None:
    transport = Transport(client_settings(sandbox.env), ClientStats())
    was_enabled = gc.isenabled()
    gc.disable()  # only reference counting may free it
    try:
        response = transport.send("GET", "/_sandbox/stats", group=endpoints.LIGHT)
        body = response.content
        assert response.json() == json.loads(body)
        assert b"".join(response.iter_bytes()) == body
        alive = weakref.ref(response)
        del response
        assert alive() is None, "the response outlived its last reference (a reference cycle)"
    finally:
        if was_enabled:
            gc.enable()
        transport.close()
