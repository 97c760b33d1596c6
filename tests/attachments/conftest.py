from tests.sync.support import ledger  # noqa: F401 - the fixture, shared
