"""Fixtures of the governance tests; shared helpers live in tests/governance/support.py."""

from tests.governance.support import archive  # noqa: F401 (a fixture pytest collects here)
