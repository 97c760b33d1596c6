"""Fixtures of the integrity tests; the helpers they share live in tests/integrity/support.py."""

from tests.integrity.support import (  # noqa: F401 (fixtures pytest collects from here)
    archive,
    other_keys,
    signing_keys,
)
