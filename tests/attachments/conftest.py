from tests.pipeline.support import ledger  # noqa: F401 - the fixture, shared
