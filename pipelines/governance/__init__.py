"""Governance of the archive: who read it (the access trail) and what must be kept (legal holds).

Both are write-once records in the archive itself, beside the data they govern:
`_access/<YYYY-MM-DD>/<seq>.json` (access_trail.py) and `_holds/<matter>/<time>-<action>.json`
(holds.py). The audit catalog reads them into the `access_log` and `holds` views
(catalog_tables.py). docs/governance.md describes the design and its choices.
"""
