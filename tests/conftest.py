"""Fixtures live in tests/fixtures/, one module per real component the tests start."""

import pytest

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


def pytest_collection_modifyitems(config, items):
    """The slow end-to-end tests first (in their own order): the test workers take tests in
    this order, so the longest start at once instead of finishing alone at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
