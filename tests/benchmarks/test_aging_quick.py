"""benchmarks/aging.py runs end to end on tiny settings and prints its verdict line."""

from __future__ import annotations

import re

from benchmarks import aging


def test_aging_runs_on_tiny_settings(tmp_path, capsys):
    argv = ["--days", "2", "--sources", "1", "--per-day", "40", "--runs-per-day", "6",
            "--reps", "1", "--out", str(tmp_path / "aging")]  # fmt: skip
    assert aging.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"aging: max day-D/day-1 ratio \d+\.\d\d over \d+ steps", lines[-1])
    assert any(line.startswith("commit (median of runs)") for line in lines)
