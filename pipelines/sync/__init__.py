"""Plain, Dagster-free functions that archive one source: contents, identities, agents.

The Dagster assets and the `rc-archive run` command both call these, so scheduled runs,
backfills and the command line archive in exactly the same way.
"""
