"""Fixtures of the sandbox tests; the helpers they share live in tests/sandbox/support.py."""

from tests.sandbox.support import (  # noqa: F401 (fixtures pytest collects from here)
    api,
)
