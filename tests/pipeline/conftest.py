"""Fixtures of the pipeline tests; the helpers they share live in tests/pipeline/support.py."""

from tests.pipeline.support import (  # noqa: F401 (fixtures pytest collects from here)
    ledger,
)
