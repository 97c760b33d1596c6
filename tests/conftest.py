"""Fixtures live in tests/fixtures/, one module per real component the tests start."""

pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.sandbox",
]
