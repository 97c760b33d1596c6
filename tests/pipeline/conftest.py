"""Shared pieces of the pipeline tests: a local archive and a client for a sandbox."""

from __future__ import annotations

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.sync.versions import ArchivedVersions
from schemas.ids import source_stream


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    return Ledger(open_store(str(tmp_path / "archive"), {}))


def client_for(sandbox) -> RingCentralClient:
    return RingCentralClient(ClientSettings.from_env(sandbox.env))


def archived(ledger: Ledger, source_id: str) -> ArchivedVersions:
    return ArchivedVersions.load(ledger, "contents", source_stream(source_id))
