"""A network endpoint that hangs or refuses ends the command in one line and exit 4.

Each scenario runs `rc-archive` as a child process with the default timeouts (nothing set, as an
operator's would), against a fault double, and must end with exit 4 and one line naming the
endpoint, without a traceback, within a generous bound: 120 s from the child's start, a hang
detector, not a speed claim (the defaults end a hang about 30-40 s after the first request:
pipelines/settings.py, docs/deploy.md "Timeouts"; a loaded machine adds the start-up). The
children run at the same time (a module fixture starts them all), so the module costs one
hang, not five.

Fault doubles, for fault injection only:
- `SilentServer`: a TCP server that accepts every connection and never answers (it reads and
  writes nothing), an endpoint that hangs;
- `closed_port`: a port nobody listens on, so the operating system refuses the connection;
- `ParquetSilentProxy`: the S3 fault proxy of the fault matrix (tests/e2e/s3_fault_proxy.py) in
  front of the real S3 server (moto over HTTP), which forwards every request except the reads of
  Parquet files, which it accepts and never answers: boto3's requests (the access trail) work,
  and only DuckDB's reads of the archive's files hang.
Everything else is real: the S3 server, the archive, the catalog, the CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive.store import aws_client, open_store
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import httpfs_timeout_sql
from pipelines.ringcentral import ClientSettings
from pipelines.settings import NetworkTimeouts, SettingError, Settings
from pipelines.tables.iceberg import tables_config
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import S1, make_dataset, write_dataset
from tests.e2e.s3_fault_proxy import S3FaultProxy

RC_ARCHIVE = str(Path(sys.executable).with_name("rc-archive"))
# The generous bound of every scenario (a wait, not a speed claim).
BOUND_SECONDS = 120
FAKE_JWT = "aaaa.bbbb.cccc"


class SilentServer:
    """Fault-injection double: a TCP server that accepts every connection and never answers.

    It reads nothing and writes nothing; the connections stay open until `stop`, as with a
    load balancer whose targets are gone or a firewall that swallows the traffic."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._socket.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            connection.close()
        self._socket.close()


def closed_port() -> str:
    """The URL of a port nobody listens on (the operating system refuses connections)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class ParquetSilentProxy(S3FaultProxy):
    """Fault-injection double: the fault matrix's S3 proxy, forwarding every request to the real
    server except GET/HEAD of a `.parquet` object, which it accepts and never answers (the
    handler holds the connection until the proxy stops)."""

    def __init__(self, upstream_url: str) -> None:
        self.released = threading.Event()
        self.held = 0
        super().__init__(upstream_url)

    def _handler_class(self):
        proxy = self
        forwarding = super()._handler_class()

        class Handler(forwarding):
            def _handle(self) -> None:
                if self.command in ("GET", "HEAD") and urlsplit(self.path).path.endswith(
                    ".parquet"
                ):
                    with proxy.lock:
                        proxy.held += 1
                    proxy.released.wait()
                    self.close_connection = True
                    return
                super()._handle()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        return Handler

    def stop(self) -> None:
        self.released.set()
        super().stop()


@dataclass
class Child:
    """One `rc-archive` child process, its output in files (no pipe to fill)."""

    argv: list[str]
    env: dict[str, str]
    workdir: Path
    started: float = 0.0
    process: subprocess.Popen | None = None
    seconds: float | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    notes: dict = field(default_factory=dict)

    def start(self) -> Child:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.workdir / "stdout", "wb")  # noqa: SIM115 - closed in wait()
        self._err = open(self.workdir / "stderr", "wb")  # noqa: SIM115
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [RC_ARCHIVE, *self.argv], env=self.env, stdout=self._out, stderr=self._err
        )
        # The moment it exits, whichever test waits first (reported in assertion messages).
        self._exited = threading.Thread(target=self._note_exit, daemon=True)
        self._exited.start()
        return self

    def _note_exit(self) -> None:
        self.process.wait()
        self.seconds = time.monotonic() - self.started

    def wait(self) -> Child:
        """Wait for the child (at most the bound from its start; a child still running then is
        killed and reported as such)."""
        if not self._out.closed:
            self._exited.join(timeout=max(BOUND_SECONDS - (time.monotonic() - self.started), 0.1))
            if self._exited.is_alive():
                self.process.kill()
                self._exited.join()
                self.seconds = None
            else:
                self.returncode = self.process.returncode
            self._out.close()
            self._err.close()
            self.stdout = (self.workdir / "stdout").read_text(errors="replace")
            self.stderr = (self.workdir / "stderr").read_text(errors="replace")
        return self

    def error_lines(self) -> list[str]:
        """stderr without the retry announcements (progress lines, indented)."""
        return [line for line in self.stderr.splitlines() if line and not line.startswith(" ")]


def _base_env() -> dict[str, str]:
    """The environment of a child: this one without any AWS, archive or RingCentral setting
    (the session's S3 fixture exports its own), so each scenario names exactly its own."""
    dropped = ("AWS_", "ARCHIVE_", "RC_", "AUDIT_DB", "DAGSTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | {"RC_ARCHIVE_USER": "counsel@example.com"}


def _s3_keys(s3_server) -> dict[str, str]:
    return {k: v for k, v in s3_server.env.items() if k != "AWS_ENDPOINT_URL"}


@pytest.fixture(scope="module")
def scenarios(s3_server, tmp_path_factory):
    """Every scenario's child, all started at once; each test waits for its own."""
    root = tmp_path_factory.mktemp("timeouts")
    # A local archive with its catalog (verify reads it; reconcile reads its ledger).
    local = root / "archive"
    write_dataset(ArchiveBuilder(str(local)), make_dataset())
    # An S3 archive on the real server, with its catalog.
    bucket = s3_server.make_bucket()
    uri = f"s3://{bucket}/arc"
    write_dataset(ArchiveBuilder(uri, s3_server.env), make_dataset())
    s3_catalog = root / "s3-audit.duckdb"
    build_catalog(uri, s3_catalog, Settings.from_env(dict(s3_server.env) | {"ARCHIVE_URI": uri}))

    silent = SilentServer()
    proxy = ParquetSilentProxy(s3_server.endpoint_url).start()
    refused = closed_port()
    base = _base_env()
    s3 = base | _s3_keys(s3_server) | {"ARCHIVE_URI": uri, "AUDIT_DB": str(s3_catalog)}
    children = {
        "sql_s3_silent": Child(
            ["sql", "SELECT count(*) FROM messages"],
            s3 | {"AWS_ENDPOINT_URL": silent.url},
            root / "sql_s3_silent",
            notes={"endpoint": silent.url},
        ),
        "sql_s3_refused": Child(
            ["sql", "SELECT count(*) FROM messages"],
            s3 | {"AWS_ENDPOINT_URL": refused},
            root / "sql_s3_refused",
            notes={"endpoint": refused},
        ),
        "sql_duckdb_silent": Child(
            ["sql", "SELECT count(*) FROM contents"],
            s3 | {"AWS_ENDPOINT_URL": proxy.endpoint_url},
            root / "sql_duckdb_silent",
            notes={"endpoint": proxy.endpoint_url, "bucket": bucket},
        ),
        "verify_witness_silent": Child(
            ["verify", "--witness", f"s3://{bucket}-witness/w"],
            base
            | _s3_keys(s3_server)
            | {"ARCHIVE_URI": str(local), "AWS_ENDPOINT_URL": silent.url},
            root / "verify_witness_silent",
            notes={"endpoint": silent.url},
        ),
        "reconcile_api_silent": Child(
            ["reconcile", "--source", S1],
            base
            | {
                "ARCHIVE_URI": str(local),
                "RC_SERVER_URL": silent.url,
                "RC_APP_CLIENT_ID": "timeouts-app",
                "RC_APP_CLIENT_SECRET": "secret-value-1",
                "RC_USER_JWT": FAKE_JWT,
            },
            root / "reconcile_api_silent",
            notes={"endpoint": silent.url},
        ),
    }
    for child in children.values():
        child.start()
    try:
        yield children
    finally:
        for child in children.values():
            child.wait()
        proxy.stop()
        silent.stop()


def _assert_one_line_exit_4(child: Child, command: str) -> str:
    child.wait()
    assert child.seconds is not None, f"{command} still running after {BOUND_SECONDS} s"
    assert child.returncode == 4, (child.returncode, child.seconds, child.stderr)
    assert "Traceback" not in child.stderr, child.stderr
    lines = child.error_lines()
    assert len(lines) == 1, child.stderr
    line = lines[0]
    assert line.startswith(f"rc-archive {command}: "), line
    assert child.notes["endpoint"] in line, line
    assert child.stdout == "", child.stdout  # nothing was read, nothing printed
    return line


def test_sql_on_an_s3_endpoint_that_never_answers(scenarios):
    line = _assert_one_line_exit_4(scenarios["sql_s3_silent"], "sql")
    assert "gave no answer within the read timeout" in line and "AWS_ENDPOINT_URL" in line


def test_sql_on_an_s3_endpoint_that_refuses_connections(scenarios):
    line = _assert_one_line_exit_4(scenarios["sql_s3_refused"], "sql")
    assert "cannot be reached" in line


def test_sql_whose_duckdb_reads_never_get_an_answer(scenarios, s3_server):
    """The trail works (boto3), the views' reads hang (DuckDB httpfs): exit 4 all the same, and
    the access trail records the failed query."""
    child = scenarios["sql_duckdb_silent"]
    line = _assert_one_line_exit_4(child, "sql")
    assert "reading the archive's files" in line
    store = open_store(f"s3://{child.notes['bucket']}/arc", Settings.from_env(dict(s3_server.env)))
    events = [json.loads(store.get(key)) for key in store.list("_access/")]
    assert [(e["command"], e["status"]) for e in events] == [("sql", "failed")]
    assert "IOException" in events[0]["error"]


def test_verify_against_a_witness_that_never_answers(scenarios):
    line = _assert_one_line_exit_4(scenarios["verify_witness_silent"], "verify")
    assert "gave no answer within the read timeout" in line


def test_the_ringcentral_client_against_an_api_that_never_answers(scenarios):
    child = scenarios["reconcile_api_silent"]
    line = _assert_one_line_exit_4(child, "reconcile")
    assert "did not answer in time" in line and "RC_ARCHIVE_READ_TIMEOUT" in line
    # The waits between tries were announced (indented progress lines), not silent.
    assert "RingCentral API unreachable (ReadTimeout)" in child.stderr


# -- the settings reach every client ------------------------------------------------------


TIMEOUTS = {
    "RC_ARCHIVE_CONNECT_TIMEOUT": "3",
    "RC_ARCHIVE_READ_TIMEOUT": "7.5",
    "RC_ARCHIVE_RETRY_BUDGET": "50",
}


def test_the_timeouts_are_settings_with_defaults():
    assert Settings.from_env({}).network == NetworkTimeouts(connect=5.0, read=15.0, budget=40.0)
    assert Settings.from_env(TIMEOUTS).network == NetworkTimeouts(3.0, 7.5, 50.0)
    for name in TIMEOUTS:
        with pytest.raises(SettingError, match=name):
            Settings.from_env({name: "soon"})
        with pytest.raises(SettingError, match=name):
            NetworkTimeouts.from_env({name: "0"})


def test_the_default_budget_ends_a_hang_within_a_minute():
    defaults = NetworkTimeouts()
    # botocore and the RingCentral client: a retry starts only if it ends within the budget.
    assert defaults.may_retry(defaults.read, 0.1)  # one retry after a first silent try
    assert not defaults.may_retry(2 * defaults.read, 0.1)
    assert defaults.budget + defaults.connect < 60
    # DuckDB httpfs: its timeout bounds a whole try; all tries fit in the budget.
    timeout, retries = defaults.duckdb_http()
    assert (retries + 1) * timeout <= defaults.budget


def test_every_client_is_built_with_the_settings(monkeypatch, tmp_path):
    s3_env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"}
    settings = Settings.from_env(TIMEOUTS | s3_env)
    client = aws_client("s3", settings.s3, settings.network)
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3.0, 7.5)
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    glue = aws_client("glue", settings.s3, settings.network)
    assert glue.meta.config.read_timeout == 7.5
    rc = ClientSettings.from_env(
        TIMEOUTS
        | {"RC_APP_CLIENT_ID": "app", "RC_APP_CLIENT_SECRET": "secret", "RC_USER_JWT": FAKE_JWT}
    )
    assert (rc.connect_timeout_seconds, rc.read_timeout_seconds, rc.retry_budget_seconds) == (
        3.0,
        7.5,
        50.0,
    )
    assert httpfs_timeout_sql(settings.network) == [
        "SET http_timeout = 25",
        "SET http_retries = 1",
    ]
    store = open_store("s3://bucket/prefix", settings)
    assert store.client.meta.config.read_timeout == 7.5
    config = tables_config(store, tmp_path / "audit.duckdb", settings)
    assert config.io_properties["s3.connect-timeout"] == "3"
    assert config.io_properties["s3.request-timeout"] == "7.5"
    assert config.timeouts == settings.network  # the Glue and REST catalogs' clients
    # Dagster's resources read the timeouts (and the S3 access) from their process at run time.
    for name, value in (TIMEOUTS | s3_env).items():
        monkeypatch.setenv(name, value)
    resource = ArchiveResource(archive_uri="s3://bucket/prefix")
    assert resource.settings().network == settings.network
    assert resource.store().client.meta.config.read_timeout == 7.5
    rc_resource = RingCentralResource(client_id="app", client_secret="secret", user_jwt=FAKE_JWT)
    assert rc_resource.client_settings().read_timeout_seconds == 7.5
