"""Fixtures of the webhooks tests; the helpers they share live in tests/webhooks/support.py."""

from tests.webhooks.support import (  # noqa: F401 (fixtures pytest collects from here)
    archive_uri,
    receiver,
    store,
)
