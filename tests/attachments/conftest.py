from tests.pipeline.conftest import ledger  # noqa: F401 - the fixture, shared
