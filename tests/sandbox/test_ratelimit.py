"""Light group: sliding window, headers on every response, 429 + penalty that resets."""

from __future__ import annotations

import time

from tests.sandbox.support import CONTENTS, api_client


def test_limit_headers_penalty_and_reset(sandbox_factory):
    sb = sandbox_factory(light_limit=3, window_seconds=1.0, penalty_seconds=1.0, contents=100)
    with api_client(sb) as api:
        responses = [api.get(CONTENTS, params={"perPage": 1}) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
        for response in responses:
            assert response.headers["X-Rate-Limit-Group"] == "Light"
            assert response.headers["X-Rate-Limit-Limit"] == "3"
            assert response.headers["X-Rate-Limit-Window"] == "1"
        refused = responses[-1]
        assert refused.headers["Retry-After"] == "1"
        body = refused.json()
        assert body["errorCode"] == "CMN-301" and body["errors"][0]["errorCode"] == "CMN-301"
        time.sleep(0.7)
        # a request during the penalty restarts it: still refused 0.7 s later
        assert api.get(CONTENTS).status_code == 429
        time.sleep(0.7)
        assert api.get(CONTENTS).status_code == 429
        time.sleep(1.1)
        assert api.get(CONTENTS).status_code == 200
        assert sb.stats.count_429 == 3
        assert sb.stats.requests(group="Light", path_prefix=CONTENTS) == 7


def test_sliding_window_lets_requests_through_again(sandbox_factory):
    sb = sandbox_factory(light_limit=2, window_seconds=0.5, penalty_seconds=5.0, contents=100)
    with api_client(sb) as api:
        assert api.get(CONTENTS).status_code == 200
        assert api.get(CONTENTS).status_code == 200
        time.sleep(0.6)
        assert api.get(CONTENTS).status_code == 200
