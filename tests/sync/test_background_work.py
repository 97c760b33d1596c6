"""The two background threads of a crawl keep the order and the errors of inline code.

`prefetched` reads one page ahead; `BackgroundCommitter` commits one batch behind. Both must be
invisible except for speed: same items in the same order, an error raised where it would have
been raised inline, and no thread left running when the caller stops.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from pipelines.archive.committer import BackgroundCommitter
from pipelines.ringcentral.prefetch import prefetched
from pipelines.sync.contents import _newest, _oldest
from schemas.common import parse_api_time


class Boom(Exception):
    pass


def _pages(n: int, fail_at: int | None = None, fetched: list | None = None):
    for number in range(n):
        if number == fail_at:
            raise Boom(f"page {number}")
        if fetched is not None:
            fetched.append(number)
        yield number


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def test_prefetched_yields_everything_in_order():
    assert list(prefetched(_pages(50))) == list(range(50))
    assert list(prefetched(iter([]))) == []


def test_prefetched_raises_at_the_position_the_source_raised():
    seen = []
    with pytest.raises(Boom, match="page 3"):
        for item in prefetched(_pages(10, fail_at=3)):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_prefetched_stops_its_thread_when_the_caller_stops_early():
    fetched: list[int] = []
    for item in prefetched(_pages(1000, fetched=fetched), name="early-stop"):
        if item == 2:
            break
    assert not _threads("early-stop")
    assert len(fetched) <= 4  # the page in hand, one fetched ahead, one being fetched


def test_prefetched_fetches_the_next_page_while_the_caller_holds_this_one():
    second_fetch_started = threading.Event()

    def pages():
        yield 0
        second_fetch_started.set()
        yield 1

    items = prefetched(pages())
    assert next(items) == 0
    # Inline, page 1 would only be fetched when the caller asks for it.
    assert second_fetch_started.wait(timeout=10)
    assert list(items) == [1]


def test_prefetched_holds_at_most_one_page_beyond_the_callers():
    fetched: list[int] = []
    items = prefetched(_pages(10, fetched=fetched))
    assert next(items) == 0
    time.sleep(0.3)  # ample time for an eager reader to run further ahead
    assert fetched == [0, 1]
    assert next(items) == 1
    time.sleep(0.3)
    assert fetched == [0, 1, 2]
    assert list(items) == list(range(2, 10))


def test_committer_runs_commits_in_submission_order():
    done: list[int] = []
    with BackgroundCommitter() as committer:
        for number in range(20):
            committer.submit(lambda n=number: (time.sleep(0.001), done.append(n)))
    assert done == list(range(20))


def test_a_failed_commit_is_raised_before_the_next_one_runs():
    done: list[str] = []

    def failing() -> None:
        raise Boom("disk full")

    with pytest.raises(Boom, match="disk full"), BackgroundCommitter() as committer:
        committer.submit(failing)
        committer.submit(lambda: done.append("later"))
    assert done == []


def test_the_callers_error_wins_and_the_commit_in_flight_finishes():
    done: list[str] = []

    def slow_commit() -> None:
        time.sleep(0.2)
        done.append("committed")

    with pytest.raises(Boom, match="crawl failed"), BackgroundCommitter() as committer:
        committer.submit(slow_commit)
        raise Boom("crawl failed")
    assert done == ["committed"]


TIMES = [
    "2024-02-21T23:18:34Z",
    "2024-02-21T23:18:34.567Z",
    "2024-02-21T23:18:34.567+02:00",
    "2024-02-21T23:18:34",
    "2024-02-30T00:00:00Z",
    "yesterday",
    "",
    None,
    1700000000,
    "1969-12-31T23:59:59.999Z",
    "2031-01-01T00:00:00.001Z",
]


@pytest.mark.parametrize("start", range(0, len(TIMES), 2))
@pytest.mark.parametrize("size", [1, 2, 4, len(TIMES)])
def test_page_time_extremes_agree_with_the_lenient_parse(start, size):
    values = TIMES[start : start + size]
    records = [{"creationTime": v} for v in values] + ["not a record"]
    parsed = [t for t in map(parse_api_time, values) if t is not None]
    assert _newest(records, "creationTime") == (max(parsed) if parsed else None)
    assert _oldest(records, "creationTime") == (min(parsed) if parsed else None)
    newest = _newest(records, "creationTime")
    assert newest is None or newest.tzinfo is not None


def test_page_time_extremes_of_a_clean_page_are_utc():
    records = [{"creationTime": "2024-05-01T10:00:00Z"}, {"creationTime": "2024-05-02T10:00:00Z"}]
    assert _newest(records, "creationTime") == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert _oldest(records, "creationTime") == datetime(2024, 5, 1, 10, tzinfo=UTC)
