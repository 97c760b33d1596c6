"""Fixtures of the governance tests; shared helpers live in tests/governance/support.py."""

from tests.governance.support import archive, s3_archive  # noqa: F401 (fixtures pytest collects here)
