"""Arrow schemas, pandera models and normalisers of every archived table: one source of truth.

One module per table (`contents`, `identities`, `agents`, `quarantine`); `common` holds the
canonical JSON, hashing and timestamp rules every table shares; `ids` validates the source ids
that become partition keys and object key parts.
"""
