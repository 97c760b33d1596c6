"""The governance commands on the S3 server, as on a local archive: every audited read leaves
one chained event in the bucket, a decision is chained and verified, a re-scan commits through
the ledger, search reads the views over S3."""

from __future__ import annotations

import json
import os

from cli.main import main
from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.governance.access_trail import verify_trail
from pipelines.settings import Settings
from tests.governance.support import catalog_rows


def test_audited_reads_review_and_rescan_on_s3(s3_archive, tmp_path, capsys):
    _bucket, store = s3_archive
    # The dataset's planted leftovers (an orphan file, a broken intent) and its hand-made rows,
    # whose raw_json is not the API's record (`row_forged`).
    planted = {(f.kind, f.key, f.detail) for f in verify(store).findings}
    audit_db = os.environ["AUDIT_DB"]
    env = dict(os.environ)
    thread = catalog_rows(audit_db, "SELECT min(thread_id) FROM messages", env)[0][0]
    assert main(["sql", "SELECT count(*) FROM messages"]) == 0
    assert main(["thread", thread]) == 0
    capsys.readouterr()
    assert main(["search", "order", "--format", "json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert {h["id"] for h in hits} >= {"c1", "c9"}
    export_dir = str(tmp_path / "production")
    assert main(["export", "--thread", thread, "--format", "jsonl", "--out", export_dir]) == 0

    policies = tmp_path / "policies.yaml"
    policies.write_text("policies:\n  - name: orders\n    terms: [order]\n", encoding="utf-8")
    assert main(["review", "rescan", "--policies", str(policies)]) == 0
    build_catalog(os.environ["ARCHIVE_URI"], audit_db, Settings.from_env(env))
    capsys.readouterr()
    assert main(["review", "next", "--format", "json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert queue and {row["policy"] for row in queue} == {"orders"}
    flag = queue[0]["flag_id"]
    assert main(["review", "decide", flag[:12], "--decision", "cleared", "--note", "ok"]) == 0
    assert main(["review", "verify"]) == 0

    count, findings = verify_trail(store)
    assert not findings
    commands = [json.loads(store.get(k))["command"] for k in sorted(store.list("_access/"))]
    assert commands == ["sql", "thread", "search", "export", "review"]
    assert count == len(commands)
    # Only what the dataset planted, nothing new.
    after = {(f.kind, f.key, f.detail) for f in verify(store).findings}
    assert {kind for kind, _, _ in after} >= {"extra", "intent_invalid"} and after == planted
