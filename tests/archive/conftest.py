"""Fixtures of the archive tests; the helpers they share live in tests/archive/support.py."""

from tests.archive.support import (  # noqa: F401 (fixtures pytest collects from here)
    sample,
)
