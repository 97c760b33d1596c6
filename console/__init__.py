"""The web console (`rc-archive console`, docs/console.md): a server-rendered site where
compliance reviewers, auditors and administrators work with the archive through the same
library the command line uses, each read leaving its access event first.

Layering: `console` imports `pipelines` (and `schemas`) only; `cli` starts it.
"""
