"""The docs are tested: every `rc-archive` / `python` command README.md and docs/*.md show runs
against a sandbox and a small archive, as a child process, and must exit as the doc implies.

How a documented command is found, and the markers that skip one (visibly, with a reason, in
the doc itself), are in tests/docs/doc_blocks.py. Here:

- a small sandbox world (fixed seed and clock) is archived once with `rc-archive run`, which
  also builds the audit catalog, into a template directory;
- each doc block gets its own copy of that archive, witness and catalog (hard links: the
  archive is write-once) and its own working directory, so a block that places a hold, disposes
  of files or rebuilds the Iceberg catalog cannot change what another block sees; a block's
  commands run in order, as a reader types them (the earlier ones first when a test runs alone);
- the paths, ids and placeholders the docs use are mapped to the fixture's by the two explicit
  tables below (LITERALS, PLACEHOLDERS): nothing else of a command is changed;
- each command runs once, whichever test worker asks first: the template and the blocks live in
  the session's shared temporary directory, under file locks, and each worker runs its own
  sandbox of the same world and its own fork server (tests/docs/fork_server.py: `rc-archive` is
  a child process that does not import pandas again);
- `make` lines are not run (make demo / make test take minutes and CI runs make test itself):
  their target must exist in the Makefile.

Also: README's list of views is PUBLIC_VIEWS, docs/tables.md names every Iceberg table.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.docs.doc_blocks import REPO, Command, collect, runnable, words
from tests.docs.fork_server import client_script

DOCS = collect()

# A small world with a fixed clock, so the docs' dates (`--period 2026-11`, `--as-of
# 2026-11-07T12:25:00Z`) fall inside its history whenever the test runs.
WORLD_NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WORLD = dict(
    seed=29,
    sources=2,
    contents=300,
    days=60,
    now_ms=int(WORLD_NOW.timestamp() * 1000),
    light_limit=10_000,
    medium_limit=10_000,
    auth_limit=1_000,
    window_seconds=1.0,
    penalty_seconds=1.0,
)
PERIOD = "2026-11"  # the month the docs attest
COMMAND_TIMEOUT = 300  # seconds; a command here takes a few

# What the docs write -> what it is here ({name} = a value of the block, see Block.value).
# Applied longest first, so a literal inside a longer one never cuts it.
LITERALS = {
    # README, "Open the audit DB": the archive and catalog of the example
    "/srv/rc-archive/": "{state}/",
    # deploy.md: a catalog directory
    "/srv/audit/": "{state}/",
    # deploy.md, "Backup ... and restore": the replica is a copy of the block's archive
    "s3://acme-comms-archive-replica/rc": "{replica}",
    # integrity.md: a certificate
    "cert.json": "{certificate}",
    # README: a thread of the demo; integrity.md: a message
    "65c42333b9eca9e4000003b5": "{thread_id}",
    "65c40163c092e4000768f688": "{content_id}",
    # README: the demo's settings
    ".demo/sandbox.env": "{env_file}",
}

# Placeholders of a synopsis: (the option before it, placeholder) or the placeholder alone.
PLACEHOLDERS = {
    ("--source", "ID"): "{source_id}",
    ("--thread", "ID"): "{thread_id}",
    ("--identity", "ID"): "{identity_id}",
    "THREAD_ID": "{thread_id}",
    "CONTENT_ID": "{content_id}",
    "FLAG_ID": "{flag_id}",
    "<source>": "{source_id}",
    ("--matter", "NAME"): "doc-test-matter",
    ("--policy", "NAME"): "{policy}",
    ("--reason", "TEXT"): "checked by the doc test",
    ("--note", "TEXT"): "checked by the doc test",
    ("--as-of", "DATE"): "{today}",
    ("--from", "T"): "2026-11-01T00:00:00Z",
    ("--to", "T"): "2026-12-01T00:00:00Z",
    ("--out", "DIR"): "production",
    ("--key", "KEY"): "{private_key}",
    "KEY.pub": "{public_key}",
    ("--certificate", "CERT"): "{certificate}",
    ("--query", "SQL"): "SELECT id FROM messages WHERE thread_id = '{thread_id}'",
    ("--witness", "URI"): "{witness}",
}

# Files of the checkout a documented command names by a relative path (docs/verify_proof.py,
# policies.example.yaml, .venv/bin/rc-archive): linked into each block's working directory.
CHECKOUT_LINKS = ("docs", "policies.example.yaml", "dagster.example.yaml", ".venv")

SETTINGS_PREFIXES = ("RC_", "ARCHIVE_", "AUDIT_", "AWS_", "DAGSTER_", "WEBHOOK_")


@dataclass
class Result:
    command: str
    returncode: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        return (
            f"$ {self.command}\nexit {self.returncode}\n"
            f"--- stdout (end)\n{self.stdout[-3000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"
        )


def _run(shown: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Result:
    """Run a child process in its own process group, killed whole on a timeout (the fork
    server then ends the command whose client went away)."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return Result(shown, -1, stdout, f"{stderr}\ntimed out after {COMMAND_TIMEOUT} s")
    return Result(shown, process.returncode, stdout, stderr)


@contextmanager
def _locked(path: Path):
    """Held by one test worker at a time (an flock on `path`)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_json(path: Path, value) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value, indent=1))
    partial.replace(path)


def _tree_of_links(source: Path, target: Path) -> None:
    """A copy of a write-once tree made of hard links: cheap, and a new or deleted object in the
    copy is not one in the source."""
    shutil.copytree(source, target, copy_function=os.link)


@dataclass
class Worker:
    """What each test worker runs for itself: a sandbox of the world, the programs on PATH."""

    sandbox: SandboxServer
    bin_dir: Path
    env: dict[str, str]  # the process environment without settings, the programs first

    def cli(self, argv: list[str], settings: dict[str, str], cwd: Path) -> Result:
        command = " ".join(["rc-archive", *argv])
        return _run(
            command, [str(self.bin_dir / "rc-archive"), *argv], cwd, {**self.env, **settings}
        )

    def settings(self, state: Path) -> dict[str, str]:
        return {
            **self.sandbox.env,
            "ARCHIVE_URI": str(state / "archive"),
            "AUDIT_DB": str(state / "audit.duckdb"),
            "ARCHIVE_WITNESS_URI": str(state / "witness"),
            "ARCHIVE_POLICIES": str(REPO / "policies.example.yaml"),
        }


class Block:
    """One doc block's directory: its archive, witness and catalog (`srv/`), working directory
    (`work/`), the values its commands were given and their results. Used under its lock."""

    def __init__(self, directory: Path, worker: Worker, template_values: dict):
        self.worker = worker
        self.directory = directory
        self.state = self.directory / "srv"
        self.work = self.directory / "work"
        if not (self.directory / "values.json").exists():
            self._create(directory.parent.parent / "template", template_values)
        self.values = json.loads((self.directory / "values.json").read_text())
        results = self.directory / "results.json"
        stored = json.loads(results.read_text()) if results.exists() else {}
        self.results = {int(line): Result(**result) for line, result in stored.items()}
        # Settings of this worker's sandbox (a block may have been begun by another worker).
        self.settings = worker.settings(self.state)
        (self.state / "sandbox.env").write_text(
            "".join(f"{k}={v}\n" for k, v in self.settings.items())
        )

    def _create(self, template: Path, template_values: dict) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)  # a block begun by a crashed worker
        self.state.mkdir(parents=True)
        self.work.mkdir()
        _tree_of_links(template / "archive", self.state / "archive")
        _tree_of_links(template / "witness", self.state / "witness")
        shutil.copy2(template / "audit.duckdb", self.state / "audit.duckdb")
        for name in CHECKOUT_LINKS:
            (self.work / name).symlink_to(REPO / name)
        for name, text in DOCS.files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(text)
        values = {
            **template_values,
            "state": str(self.state),
            "witness": str(self.state / "witness"),
            "env_file": str(self.state / "sandbox.env"),
        }
        _write_json(self.directory / "values.json", values)

    def value(self, name: str) -> str:
        if name not in self.values:
            self._prepare(name)
            _write_json(self.directory / "values.json", self.values)
        return self.values[name]

    def _prepare(self, name: str) -> None:
        if name == "replica":
            _tree_of_links(self.state / "archive", self.state / "replica")
            self.values["replica"] = str(self.state / "replica")
        elif name in ("certificate", "private_key", "public_key"):
            # A key and this block's certificates, made as integrity.md shows (not a doc line).
            keys, certs = self.state / "keys", self.state / "certs"
            key = keys / "attest.pem"
            for argv in (
                ["keygen", "--out", str(key)],
                ["attest", "--period", PERIOD, "--key", str(key), "--out", f"{certs}/"],
            ):
                done = self.worker.cli(argv, self.settings, self.work)
                assert done.returncode == 0, f"preparing a certificate failed:\n{done.tail()}"
            self.values["private_key"] = str(key)
            self.values["public_key"] = f"{key}.pub"
            self.values["certificate"] = str(certs / f"{self.values['source_id']}-{PERIOD}.json")
        else:
            raise KeyError(f"no value {name!r} for a documented command: add it to Block._prepare")

    def fill(self, template: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.value(m[1]), template)

    def substitute(self, text: str) -> str:
        for literal in sorted(LITERALS, key=len, reverse=True):
            if literal in text:
                text = text.replace(literal, self.fill(LITERALS[literal]))
        return text

    def resolve(self, option: str | None, placeholder: str) -> str | None:
        template = PLACEHOLDERS.get((option, placeholder), PLACEHOLDERS.get(placeholder))
        return None if template is None else self.fill(template)

    def execute(self, command: Command) -> Result:
        """Run one command (its block's `export` lines first) in a shell, as a reader would."""
        line = runnable(self.substitute(command.text), self.resolve)
        setup = [self.substitute(text) for text in command.setup]
        script = "\n".join(["set -e", *setup, line])
        env = {**self.worker.env, **self.settings}
        result = _run(line, ["bash", "-c", script], self.work, env)
        self.results[command.line] = result
        stored = {str(number): asdict(result) for number, result in self.results.items()}
        _write_json(self.directory / "results.json", stored)
        return result


class DocWorld:
    """The commands' results, each command run once for the whole session (see the module)."""

    def __init__(self, root: Path, worker: Worker):
        self.root = root
        self.worker = worker
        self._template_values: dict | None = None

    def template_values(self) -> dict:
        """The template archive, made by the first worker that needs it; the ids the docs'
        placeholders stand for."""
        if self._template_values is None:
            template = self.root / "template"
            with _locked(self.root / "template.lock"):
                if not (template / "values.json").exists():
                    shutil.rmtree(template, ignore_errors=True)
                    template.mkdir()
                    settings = self.worker.settings(template)
                    done = self.worker.cli(["run"], settings, template)
                    assert done.returncode == 0, f"archiving the world failed:\n{done.tail()}"
                    source_id = self.worker.sandbox.world.source_ids[0]
                    values = _sample_values(template / "audit.duckdb", source_id)
                    _write_json(template / "values.json", values)
                self._template_values = json.loads((template / "values.json").read_text())
        return self._template_values

    def run(self, command: Command) -> tuple[Result, Command | None]:
        """The result of `command`, after the earlier commands of its block (each run once);
        or the earlier command that did not exit as its doc implies (then `command` is not run).
        """
        values = self.template_values()
        (self.root / "blocks").mkdir(exist_ok=True)
        block_dir = self.root / "blocks" / re.sub(r"[^\w]+", "-", command.block_id).strip("-")
        with _locked(block_dir.with_suffix(".lock")):
            block = Block(block_dir, self.worker, values)
            for earlier in DOCS.commands:
                if earlier.block_id != command.block_id or earlier.line > command.line:
                    continue
                if earlier.skip or earlier.program == "make":
                    continue
                result = block.results.get(earlier.line) or block.execute(earlier)
                if earlier.line != command.line and result.returncode != earlier.expect_exit:
                    return result, earlier
            return block.results[command.line], None


def _base_env(bin_dir: Path) -> dict[str, str]:
    """The process environment without any archive or API setting, the project's programs first
    on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env["RC_ARCHIVE_USER"] = "doc-test"
    return env


def _programs(bin_dir: Path, socket_path: str | None) -> None:
    """`rc-archive` and `python` of the documented commands: through the fork server when
    `socket_path` is given (tests/docs/fork_server.py), else fresh interpreters."""
    bin_dir.mkdir()
    if socket_path:
        script = client_script(sys.executable, socket_path)
        programs = {name: script for name in ("rc-archive", "python", "python3")}
    else:
        programs = {
            "rc-archive": f'#!/bin/sh\nexec "{sys.executable}" -m cli "$@"\n',
            "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
            "python3": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        }
    for name, text in programs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


@contextmanager
def _fork_server(directory: Path):
    """The fork server, ended (and every command it still runs) when the module's tests end."""
    socket_path = str(directory / "s")
    env = {**_base_env(directory), "OPENBLAS_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.docs.fork_server", socket_path],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == "ready", "the doc test's fork server failed"
        yield socket_path
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _sample_values(audit_db: Path, source_id: str) -> dict[str, str]:
    """Ids the docs' placeholders stand for, read from the template's catalog (read-only, as
    README shows any DuckDB client doing)."""
    import duckdb
    import yaml

    conn = duckdb.connect(str(audit_db), read_only=True)
    try:
        thread_id, content_id, identity_id = conn.execute(
            """
            SELECT thread_id, min(id), arg_min(author_identity_id, creation_time)
            FROM messages WHERE source_id = ? AND thread_id IS NOT NULL
            GROUP BY thread_id
            HAVING count(*) >= 2 AND min(creation_time) < TIMESTAMPTZ '2026-11-07 12:25:00+00'
            ORDER BY count(*) DESC, thread_id LIMIT 1
            """,
            [source_id],
        ).fetchone()
        (flag_id,) = conn.execute(
            "SELECT record_sha256 FROM flags ORDER BY record_sha256 LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    policies = yaml.safe_load((REPO / "policies.example.yaml").read_text())["policies"]
    return {
        "source_id": source_id,
        "thread_id": thread_id,
        "content_id": content_id,
        "identity_id": identity_id,
        "flag_id": flag_id,
        "policy": policies[0]["name"],
        "today": datetime.now(UTC).date().isoformat(),
    }


@pytest.fixture(scope="module")
def doc_world(tmp_path_factory):
    # One directory for the whole session, shared by the test workers (pytest-xdist).
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "doc-commands"
    root.mkdir(exist_ok=True)
    assert re.fullmatch(r"[\w/.-]+", str(root)), f"{root}: a path the shell needs no quotes for"
    with ExitStack() as stack:
        own = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rcdoc")))
        socket_path = None
        if os.environ.get("RC_ARCHIVE_DOC_TEST_FRESH") != "1":  # 1: a new interpreter each time
            socket_path = stack.enter_context(_fork_server(own))
        _programs(own / "bin", socket_path)
        sandbox = stack.enter_context(SandboxServer(SandboxConfig(**WORLD)))
        yield DocWorld(root, Worker(sandbox, own / "bin", _base_env(own / "bin")))


@pytest.mark.parametrize("command", DOCS.commands, ids=[c.id for c in DOCS.commands])
def test_documented_command(command: Command, request):
    if command.skip:
        pytest.skip(f"doc-test marker: {command.skip}")
    if command.program == "make":
        makefile = (REPO / "Makefile").read_text()
        targets = [word for word in words(command.text)[1:] if not word.startswith("-")]
        for target in targets:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), (
                f"{command.id}: `{command.text}`: no target {target!r} in the Makefile"
            )
        pytest.skip("make targets are not run here (minutes each; CI runs make test); it exists")
    world = request.getfixturevalue("doc_world")
    result, blocker = world.run(command)
    if blocker is not None:
        pytest.fail(
            f"{command.id} not run: {blocker.id}, earlier in its block, exited "
            f"{result.returncode}, not {blocker.expect_exit}\n{result.tail()}",
            pytrace=False,
        )
    if result.returncode != command.expect_exit:
        pytest.fail(
            f"{command.id}: `{command.text}` exited {result.returncode}, the doc implies "
            f"{command.expect_exit}\n{result.tail()}",
            pytrace=False,
        )


def test_doc_test_markers_are_well_formed():
    assert DOCS.errors == []


def test_the_docs_show_commands():
    """A guard for the extraction itself: a change of the docs' notation that hid every
    command would otherwise pass as nothing to test."""
    run = [c for c in DOCS.commands if not c.skip and c.program != "make"]
    assert len(run) >= 20 and {c.path for c in run} >= {"README.md", "docs/governance.md"}


def test_readme_lists_every_public_view():
    from pipelines.catalog.views import PUBLIC_VIEWS

    readme = (REPO / "README.md").read_text()
    views = r"`audit\.duckdb` holds the views (.*?)every column is described"
    listing = re.search(views, readme, re.S)
    assert listing, "README: the sentence listing the views is gone"
    named = re.findall(r"`([a-z_]+)`", listing[1])
    assert sorted(named) == sorted(PUBLIC_VIEWS)


def test_tables_md_names_every_iceberg_table():
    from pipelines.tables import iceberg

    tables = (REPO / "docs" / "tables.md").read_text()
    row = re.search(r"^\| tables \|(.*)$", tables, re.MULTILINE)
    assert row, "docs/tables.md: the `| tables |` row of the layout table is gone"
    named = re.findall(r"`(?:rc_archive\.)?([a-z_]+)`", row[1])
    assert sorted(named) == sorted(iceberg.TABLES)
