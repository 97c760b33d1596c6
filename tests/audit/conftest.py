"""Fixtures of the audit tests: the hand-made dataset committed to a local archive, cataloged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.catalog.build import CatalogReport, build_catalog
from pipelines.catalog.connection import connect
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import Dataset, make_dataset, write_dataset
from tests.governance.support import archive  # noqa: F401 (a fixture pytest collects here)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
def local_archive(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Path:
    root = tmp_path_factory.mktemp("audit") / "archive"
    write_dataset(ArchiveBuilder(str(root)), dataset)
    return root


@pytest.fixture(scope="module")
def local_catalog(local_archive: Path) -> CatalogReport:
    return build_catalog(local_archive, local_archive.parent / "audit.duckdb", Settings())


@pytest.fixture
def conn(local_catalog: CatalogReport) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(local_catalog.audit_db, Settings())
    try:
        yield connection
    finally:
        connection.close()
