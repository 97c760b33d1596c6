"""Identities and agents behind the archived contents, resolved through the sandbox API."""

from __future__ import annotations

from pipelines.archive.versions import committed_tables
from pipelines.sync.agents import referenced_extension_ids, sync_agents
from pipelines.sync.contents import sync_contents
from pipelines.sync.identities import referenced_identity_ids, sync_identities
from schemas.ids import source_stream
from tests.sync.support import archived, client_for

IDENTITIES_PATH = "/cx/social-messaging/v1/identities"
EXTENSION_PATH = "/restapi/v1.0/account/~/extension"


def test_every_referenced_identity_and_agent_is_resolved_once(sandbox_factory, ledger):
    sb = sandbox_factory(contents=700, sources=1)
    source_id = sb.world.source_ids[0]
    stream = source_stream(source_id)
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
        identities = sync_identities(client, ledger, source_id, run_id="run-1")
        agents = sync_agents(client, ledger, source_id, run_id="run-1")

    referenced = referenced_identity_ids(ledger, source_id)
    archived_ids = archived(ledger, source_id, "identities").ids
    assert identities.mode == "bulk"
    assert referenced and referenced - set(identities.not_found) <= archived_ids

    extension_ids = referenced_extension_ids(ledger, source_id)
    assert agents.referenced == len(extension_ids) > 0
    rows = {}
    for table in committed_tables(ledger, "agents", stream, ["extension_id", "resolution"]):
        rows.update(
            zip(
                table.column("extension_id").to_pylist(),
                table.column("resolution").to_pylist(),
                strict=True,
            )
        )
    assert set(rows) == extension_ids
    # The generated account has one creator whose extension was deleted: kept as not_found.
    assert rows.get(sb.world.agent_ext_ids[sb.world.deleted_agent]) == "not_found"
    assert agents.not_found == [sb.world.agent_ext_ids[sb.world.deleted_agent]]


def test_second_run_without_changes_asks_nothing_and_writes_nothing(sandbox_factory, ledger):
    sb = sandbox_factory(contents=500, sources=1)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
        sync_identities(client, ledger, source_id, run_id="run-1")
        sync_agents(client, ledger, source_id, run_id="run-1")
        manifests = sum(1 for _ in ledger.manifests("identities")) + sum(
            1 for _ in ledger.manifests("agents")
        )
        before = sb.stats.requests(path_prefix=IDENTITIES_PATH) + sb.stats.requests(
            path_prefix=EXTENSION_PATH
        )
        identities = sync_identities(client, ledger, source_id, run_id="run-2")
        agents = sync_agents(client, ledger, source_id, run_id="run-2")
    after = sb.stats.requests(path_prefix=IDENTITIES_PATH) + sb.stats.requests(
        path_prefix=EXTENSION_PATH
    )
    assert after == before
    assert identities.new_versions == 0 and agents.new_versions == 0
    assert manifests == sum(1 for _ in ledger.manifests("identities")) + sum(
        1 for _ in ledger.manifests("agents")
    )
