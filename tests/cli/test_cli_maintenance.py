"""`rc-archive compact` and `rc-archive checkpoint` on a local archive."""

from __future__ import annotations

from cli.main import main
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from tests.archive.support import SOURCE_ID, STREAM, commit_records


def test_compact_then_checkpoint_from_the_command_line(tmp_path, monkeypatch, capsys):
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    for i in range(3):
        commit_records(ledger, i * 10, 10)
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "archive"))
    assert main(["compact"]) == 0
    out = capsys.readouterr().out
    assert SOURCE_ID in out and "2024-02" in out and "6" in out
    assert len(Ledger(store).committed_files("contents", STREAM)) == 1
    assert main(["compact", "--source", SOURCE_ID, "--period", "2024-02"]) == 0
    assert "nothing to compact" in capsys.readouterr().out
    assert main(["checkpoint"]) == 0
    assert "| contents | 3 " in capsys.readouterr().out
    assert verify(store).findings == []
    assert main(["compact", "--source", "not-a-source"]) == 2
