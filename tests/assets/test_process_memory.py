"""Allocator settings: applied by every process that loads the code location, unless the
operator chose their own. Checked in fresh interpreters, because the settings are process-wide."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.process_memory import GC_YOUNG_THRESHOLD, release_garbage

REPO = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, assets.code_location, pyarrow as pa; "
    "from pipelines.process_memory import tune_process_memory as t; s = t(); "
    "print(json.dumps({'arenas': s.malloc_arenas, 'pool': s.arrow_pool, "
    "'in_use': pa.default_memory_pool().backend_name}))"
)


def _run_fresh(code: str, **env: str) -> str:
    """The last line `code` prints in a fresh interpreter, without the operator's settings
    unless given in `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _probe(**env: str) -> dict:
    return json.loads(_run_fresh(PROBE, **env))


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc arenas")
def test_loading_the_code_location_limits_arenas_and_picks_jemalloc():
    applied = _probe()
    assert applied["arenas"] == 2
    assert applied["pool"] == applied["in_use"]
    if _has_jemalloc():
        assert applied["in_use"] == "jemalloc"


def test_the_operators_settings_win():
    applied = _probe(MALLOC_ARENA_MAX="4", ARROW_DEFAULT_MEMORY_POOL="system")
    assert applied == {"arenas": None, "pool": "system", "in_use": "system"}


def test_loading_the_code_location_freezes_it_and_collects_less_often():
    probe = (
        "import gc, json, assets.code_location; "
        "print(json.dumps({'young': gc.get_threshold()[0], 'frozen': gc.get_freeze_count()}))"
    )
    state = json.loads(_run_fresh(probe))
    assert state["young"] == GC_YOUNG_THRESHOLD
    # Dagster, pandas and the assets: far more objects than a bare interpreter holds.
    assert state["frozen"] > 100_000


def test_duckdb_is_loaded_only_by_the_steps_that_query():
    # ~30 MB resident: a run's crawls must not carry it (it loads for the catalog step).
    probe = (
        "import sys, cli.main, assets.code_location, assets.runner; print('duckdb' in sys.modules)"
    )
    assert _run_fresh(probe) == "False"


def test_release_garbage_frees_reference_cycles_at_once():
    class Node:
        pass

    was_enabled = gc.isenabled()
    gc.disable()  # as if the next automatic collection were far away
    try:
        node = Node()
        node.self = node
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone cannot free it
        release_garbage()
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()


def test_importing_the_definitions_leaves_the_process_as_it_was():
    # Tuning is the entry point's job (assets/code_location.py), not a side effect.
    probe = "import gc, assets.definitions; print(gc.get_freeze_count())"
    assert _run_fresh(probe) == "0"
