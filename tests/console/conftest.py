"""Fixtures of the console tests: one archive for the session (built once: the sandbox crawl
takes seconds), its users file, and a fresh console per test (its own sessions and throttle)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.app import ConsoleServer
from tests.console.support import (
    build_console_archive,
    console_settings,
    running_console,
    write_users,
)


@pytest.fixture(scope="session")
def console_archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("console")
    archive = build_console_archive(tmp)
    archive["users_file"] = write_users(tmp / "console-users.json")
    return archive


@pytest.fixture
def server(console_archive: dict[str, Any], tmp_path: Path) -> Iterator[ConsoleServer]:
    settings = console_settings(console_archive, tmp_path)
    with running_console(settings, console_archive["users_file"]) as running:
        yield running
