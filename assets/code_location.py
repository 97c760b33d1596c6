"""The module Dagster loads (workspace.yaml) and `rc-archive run` imports: the entry point.

Why a module of its own: the allocator and garbage-collector settings of
pipelines/process_memory.py are process-wide, so they belong to the processes that archive (the
code server, the run workers, the CLI's runs), not to every importer of `assets.definitions`
(tests, tools, a notebook). Memory is tuned before the code location loads, and the loaded code
is frozen out of the collector's scans right after.
"""

from pipelines.process_memory import tune_garbage_collection, tune_process_memory

tune_process_memory()

from assets.definitions import defs  # noqa: E402 (after the allocator is tuned)

tune_garbage_collection()

__all__ = ["defs"]
