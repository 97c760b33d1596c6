"""Fixtures live in tests/fixtures/, one module per real component the tests start."""

import os
import tempfile

import pytest

# RingCentral clients share their token through the user's cache directory
# (pipelines/ringcentral/token_cache.py): the tests' processes use one of their own instead of
# the home directory of whoever runs them (inherited by every process a test starts).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="rc-archive-tests-cache-")

pytest_plugins = [
    "tests.fixtures.archive",
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.sandbox",
]


def _forget_dagster_state_storage() -> None:
    """Dagster keeps the "current" definitions-state storage in a context variable, bound to
    the instance that set it. A test that opened an instance and let it be collected leaves it
    pointing at nothing, and the next test that loads Definitions in the same worker fails with
    "Attempted to resolve undefined DagsterInstance weakref"."""
    import sys

    if "dagster" in sys.modules:
        from dagster._core.storage.defs_state.base import _current_storage

        _current_storage.set(None)


@pytest.fixture(autouse=True)
def _no_stale_dagster_state_storage():
    """Start every test without one."""
    _forget_dagster_state_storage()
    yield


@pytest.fixture(scope="module", autouse=True)
def _no_stale_dagster_state_storage_for_module_fixtures():
    """And every module: a module-scoped fixture (an archive run shared by a module's tests)
    is set up before the per-test reset above."""
    _forget_dagster_state_storage()
    yield


# The longest tests, longest first (measured alone with --durations on the 2-core machine
# `make test` runs on); any other `slow` test follows them, then the rest in collection order.
LONGEST_FIRST = (
    "tests/e2e/test_postgres_topology.py::",  # ~160 s
    "tests/e2e/test_fault_matrix.py::test_page_tokens_refused_mid_crawl",  # 85-120 s
    "tests/e2e/test_backfill_graphql.py::",  # ~80 s
    "tests/e2e/test_fault_matrix.py::test_s3_put_errors_and_connection_resets",  # ~60 s
    "tests/e2e/test_exactly_once.py::",  # ~50 s
    "tests/e2e/test_fault_matrix.py::test_s3_bucket_refusing_writes",  # ~45 s
    "tests/e2e/test_interrupts.py::test_interrupted_at_every_moment_then_resumed",  # ~40 s
    "tests/e2e/test_crash_safety.py::",  # ~22 s each, and the reference load once a worker
)


def pytest_configure(config):
    """Hand tests to the workers one at a time. By default xdist gives each worker a run of
    consecutive tests at the start (a quarter of its share): with the slow tests first, the
    first worker got all of them and ran them one after the other (in a 25-minute run, the
    slow tests' durations added up to about the whole run)."""
    if getattr(config.option, "maxschedchunk", "absent") is None:
        config.option.maxschedchunk = 1


def _rank(item) -> int:
    """Where a test starts: the longest first, then the other slow ones, then the rest."""
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)


def pytest_collection_modifyitems(config, items):
    """The slow end-to-end tests first, longest first: the workers take tests in this order,
    so the longest start at once instead of finishing alone at the end of the run.

    xdist still sends each worker two tests at the start (and keeps one queued behind the
    running one): a quick test as the second of each first pair keeps the two longest tests
    from queueing on one worker."""
    items.sort(key=_rank)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    slow = [item for item in items if _rank(item) < len(LONGEST_FIRST) + 1]
    quick = items[len(slow) :]
    if workers < 2 or len(slow) < workers or len(quick) < workers:
        return
    head = [entry for pair in zip(slow[:workers], quick[:workers], strict=True) for entry in pair]
    items[:] = head + slow[workers:] + quick[workers:]
