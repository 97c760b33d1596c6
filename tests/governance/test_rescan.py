"""`review rescan`: a policy added after the messages were archived flags them once, through
the ledger (the audit tests' dataset, a local archive)."""

from __future__ import annotations

import json

from cli.main import main
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.settings import Settings
from tests.audit.dataset import S1, S2
from tests.governance.support import catalog_rows

POLICIES = """
policies:
  - name: orders
    terms: ["order"]
  - name: shipping
    terms: ["ship"]
"""


def _rescan(archive, capsys, *extra: str) -> tuple[int, list[dict], str]:
    path = archive.parent / "policies.yaml"
    path.write_text(POLICIES, encoding="utf-8")
    code = main(["review", "rescan", "--policies", str(path), "--format", "json", *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else [], out.err


def test_a_new_policy_flags_history_once(archive, capsys):
    store = LocalStore(archive)
    heads = {s: Ledger(store).head("contents", f"source_id={s}").seq for s in (S1, S2)}
    findings = verify(store).findings  # the dataset's own planted leftovers
    code, results, _ = _rescan(archive, capsys, "--policy", "orders")
    assert code == 0
    by_source = {r["source_id"]: r for r in results}
    assert by_source[S1]["flags_committed"] == by_source[S1]["flags_found"] > 0
    build_catalog(archive, archive.parent / "audit.duckdb", Settings())
    flagged = catalog_rows(
        archive.parent / "audit.duckdb",
        "SELECT DISTINCT f.content_id, f.policy FROM flags f ORDER BY 1",
    )
    assert {policy for _, policy in flagged} == {"orders"}  # only the policy asked for
    assert {cid for cid, _ in flagged} == {"c1", "c2", "c3", "c9", "c10"}
    # Again: every flag is there already, so nothing is committed (not even an empty batch).
    code, results, _ = _rescan(archive, capsys, "--policy", "orders")
    assert code == 0 and all(r["flags_committed"] == 0 for r in results)
    after = {s: Ledger(store).head("contents", f"source_id={s}").seq for s in (S1, S2)}
    assert after[S1] == heads[S1] + 1
    assert verify(store).findings == findings


def test_an_unknown_policy_is_named_with_the_known_ones(archive, capsys):
    code, _, err = _rescan(archive, capsys, "--policy", "nope")
    assert code == 2 and "no policy named nope" in err and "orders, shipping" in err
    assert main(["review", "rescan"]) == 2
