"""The pure parts of benchmarks/capture_lag.py: matching shown versions to commits, the lag
figures, the busiest minute of a request counter and the verdict line. (The benchmark itself
starts the sandbox, the receiver and Dagster's services: minutes, so it is run by hand.)"""

from __future__ import annotations

import re

import yaml

from benchmarks.capture_lag import (
    Commit,
    ShownVersion,
    busiest_minute,
    dagster_yaml,
    final_line,
    iter_modes,
    match_versions,
    parse_args,
    spread,
)
from benchmarks.harness import REPO


def version(content_id: str, sha: str, modified: float, kind: str = "new") -> ShownVersion:
    return ShownVersion(content_id, "s", kind, modified, modified + 0.4, sha)


def test_each_version_is_matched_by_its_hash_not_its_id_or_time():
    first = version("a", "h1", 100.0)
    edited_same_second = version("a", "h2", 100.0, "edit")
    archived = {"h1": Commit(112.5, "run-1", "m1")}
    matches = match_versions([first, edited_same_second], archived)
    assert [m.lag for m in matches] == [12.5, None]
    assert matches[0].commit.run_id == "run-1"


def test_spread_is_nearest_rank_and_empty_is_none():
    assert spread([]) == {"p50": None, "p95": None, "max": None}
    values = [float(v) for v in range(1, 101)]
    assert spread(values) == {"p50": 51.0, "p95": 95.0, "max": 100.0}


def test_busiest_minute_takes_the_largest_rise_within_sixty_seconds():
    samples = [(0.0, 0), (30.0, 10), (60.0, 45), (90.0, 50), (150.0, 55)]
    assert busiest_minute(samples) == 45
    assert busiest_minute([(0.0, 7)]) == 0


def test_final_line_format():
    line = final_line(12.34, 40.0, 9, 10, 0)
    assert line == "capture_lag: p95 12.3 s, max 40.0 s, versions 9/10, 429s 0"
    assert re.fullmatch(r"capture_lag: p95 n/a s, max n/a s, versions 0/3, 429s 2",
                        final_line(None, None, 0, 3, 2))  # fmt: skip


def test_dagster_yaml_is_the_example_less_its_postgres_storage_unless_asked():
    shipped = yaml.safe_load(dagster_yaml())
    assert "storage" not in shipped
    assert shipped["concurrency"]["pools"]["default_limit"] == 1
    assert shipped["concurrency"]["pools"]["op_granularity_run_buffer"] == 3
    buffered = yaml.safe_load(dagster_yaml(run_buffer=2))
    assert buffered["concurrency"]["pools"]["op_granularity_run_buffer"] == 2
    example = yaml.safe_load((REPO / "dagster.example.yaml").read_text())
    on_postgres = yaml.safe_load(dagster_yaml(storage="postgres"))
    assert on_postgres == example
    assert parse_args(["--workdir", "w"]).dagster_storage == "sqlite"


def test_modes_default_to_both_and_flags_pick_one():
    assert list(iter_modes(parse_args(["--workdir", "w"]))) == ["webhooks", "polling"]
    assert list(iter_modes(parse_args(["--workdir", "w", "--no-webhooks"]))) == ["polling"]
    assert list(iter_modes(parse_args(["--workdir", "w", "--webhooks-only"]))) == ["webhooks"]
