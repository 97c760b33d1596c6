"""The small operator findings of "Operator-grade": each proved on the real command, in process
(`cli.main.main`), over a real local archive, its catalog and the sandbox API.

One test (or a few) per finding: `--env-file` at every level, `keygen` into a missing folder and
what .gitignore keeps out, help text on every option and "did you mean", the access trail of a
failed export and of `sql -f` given a settings file, the export's selection, `review next` after
a decision, two archives side by side with their Iceberg catalogs, the offline DuckDB snippet of
`rc-archive tables`, and the notice of a run without DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import duckdb
import pytest

from cli.main import build_parser, main
from cli.run_command import note_dagster_instance
from pipelines import settings as names
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.governance.access_trail import AccessTrail
from pipelines.governance.policies import PolicySet, parse_policies
from pipelines.query.access_logged import logged_export, query_fields
from pipelines.query.export import ExportSelectionError, export
from pipelines.query.search import index_path
from pipelines.settings import Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.tables.iceberg import default_catalog_file
from tests.archive.support import commit_records
from tests.audit.dataset import S1
from tests.governance.support import archive, catalog_rows  # noqa: F401 (archive: a fixture)
from tests.sync.support import client_for

REPO = Path(__file__).resolve().parents[2]


def _events(root: Path) -> list[dict]:
    """The archive's access events, in chain order (days, then seq)."""
    return [json.loads(path.read_bytes()) for path in sorted((root / "_access").glob("*/*.json"))]


def _env_file(path: Path, values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file; each of its names first set to a place that does not exist, so only the
    file's value can work, and restored after the test (--env-file writes os.environ)."""
    for name in values:
        monkeypatch.setenv(name, str(path.parent / "not-here"))
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


# -- 1. --env-file wherever a person puts it ----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--env-file", "{f}", "access", "verify"],
        ["access", "--env-file", "{f}", "verify"],
        ["access", "verify", "--env-file", "{f}"],
        ["--env-file", "{f}", "review", "verify"],
        ["review", "--env-file", "{f}", "verify"],
        ["review", "verify", "--env-file", "{f}"],
    ],
)
def test_env_file_is_accepted_before_and_after_every_command_level(
    tmp_path, monkeypatch, capsys, argv
):
    root = tmp_path / "archive"
    commit_records(Ledger(LocalStore(root)), 0, 4)
    settings = _env_file(tmp_path / "s.env", {names.ARCHIVE_URI: str(root)}, monkeypatch)
    assert main([a.replace("{f}", str(settings)) for a in argv]) == 0, capsys.readouterr().err
    assert str(root) in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        "--env-file F hold place --matter m --reason r",
        "hold --env-file F place --matter m --reason r",
        "hold place --env-file F --matter m --reason r",
        "--env-file outer hold place --env-file F --matter m --reason r",
        "review rescan --env-file F -v",
        "-v review --env-file F rescan",
        "access verify --env-file F",
        "hold verify --env-file F",
    ],
)
def test_every_nested_command_parses_env_file_and_verbose(argv):
    argv = argv.split()
    args = build_parser().parse_args(argv)
    assert args.env_file == "F"
    assert getattr(args, "verbose", False) == ("-v" in argv)


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from _commands(command, (*path, name))


def test_every_command_and_subcommand_takes_env_file_and_verbose():
    lacking = [
        " ".join(path) or "rc-archive"
        for path, parser in _commands(build_parser())
        if not {"--env-file", "--verbose"} <= set(parser._option_string_actions)
    ]
    assert lacking == []


# -- 2. keygen makes its folder; .gitignore keeps what the commands write out of git -----------


def test_keygen_creates_the_missing_key_folder_private(tmp_path, capsys):
    out = tmp_path / "keys" / "attest.pem"
    assert main(["keygen", "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.is_file() and Path(f"{out}.pub").is_file()
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_gitignore_covers_what_the_commands_and_the_demo_write_by_default(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a checkout")
    defaults = names.Settings.from_env({})
    audit_db = Path(defaults.audit_db)
    written = [
        f"{defaults.archive_location}/contents/x.parquet",
        str(audit_db),
        f"{audit_db}.wal",
        os.path.relpath(default_catalog_file(REPO / audit_db, str(tmp_path)), REPO),
        "iceberg.db",  # the catalog's name before, still read where it is in use
        str(index_path(audit_db)),
        f"{index_path(audit_db)}.wal",
        ".demo/sandbox.env",
        ".demo/keys/attest.pem",
        ".demo/certificates/20261206T222314Z/x.json",
        "keys/attest.pem",  # the keygen and attest examples of --help and the README
        "keys/attest.pem.pub",
        "certs/x-2026-11.json",
        "production/manifest.json",  # the export example
    ]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", *written],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    not_ignored = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert not not_ignored, not_ignored


# -- 3. every option says what it is for; a typo gets the nearest command -----------------------


def _undocumented(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if not action.help:
                yield f"{path}: {action.dest}"
            documented = {choice.dest for choice in action._choices_actions if choice.help}
            for name, command in action.choices.items():
                if name not in documented:
                    yield f"{path} {name}"
                yield from _undocumented(command, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            yield f"{path}: {'/'.join(action.option_strings) or action.dest}"


def test_every_option_positional_and_command_has_a_help_text():
    assert list(_undocumented(build_parser(), "rc-archive")) == []


@pytest.mark.parametrize(
    ("argv", "nearest"),
    [
        (["hlod", "list"], "hold"),
        (["exprot", "--all", "--out", "x"], "export"),
        (["review", "nxt"], "next"),
        (["hold", "plcae", "--matter", "m", "--reason", "r"], "place"),
        (["access", "verfy"], "verify"),
        (["sources", "--format", "cvs"], "csv"),
    ],
)
def test_a_mistyped_command_suggests_the_nearest_and_exits_2(capsys, argv, nearest):
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    assert f"did you mean '{nearest}'?" in capsys.readouterr().err


def test_a_command_nothing_is_near_names_the_choices(capsys):
    with pytest.raises(SystemExit) as ended:
        main(["xyzzy"])
    err = capsys.readouterr().err
    assert ended.value.code == 2 and "did you mean" not in err and "hold" in err


# -- 4. the access trail of a failed export and of `sql -f`; what export selects ----------------


def test_an_export_that_fails_after_its_event_records_the_failure(archive, tmp_path, capsys):  # noqa: F811
    """Two exports into one directory: the other one finishes first, so this one's production
    cannot be moved into place after its event was stored; a second event says it failed."""
    out = tmp_path / "production"
    audit_db = os.environ[names.AUDIT_DB]

    def produce(staging: Path):
        assert main(["export", "--source", S1, "--format", "jsonl", "--out", str(out)]) == 0
        with connect(audit_db, Settings.from_env(dict(os.environ)), read_only=True) as conn:
            return export(conn, staging, source=S1, fmt="csv")

    trail = AccessTrail(LocalStore(archive), Settings.from_env(dict(os.environ)))
    details = {"arguments": {"out": str(out)}, **query_fields(None, {"source": S1})}
    with pytest.raises(OSError):
        logged_export(trail, details, str(out), produce)
    other, produced, failed = _events(archive)
    assert (other["status"], produced["status"]) == ("ok", "ok")
    assert failed["command"] == "export" and failed["status"] == "failed"
    assert failed["rows"] is None and str(out) in failed["error"]
    assert json.loads((out / "manifest.json").read_text())["export_format"] == "jsonl"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sql_f_with_a_settings_file_is_refused_before_anything_is_recorded(
    archive,  # noqa: F811
    tmp_path,
    capsys,
):
    secret = "s3cr3t-client-value-0123456789"
    settings = tmp_path / "prod.env"
    settings.write_text(
        f"RC_APP_CLIENT_ID=abc\nRC_APP_CLIENT_SECRET={secret}\nAWS_SECRET_ACCESS_KEY={secret}\n"
    )
    assert main(["sql", "-f", str(settings)]) == 2
    err = capsys.readouterr().err
    assert "does not parse" in err and len(err.strip().splitlines()) == 1 and secret not in err
    assert _events(archive) == []
    assert not any(secret.encode() in p.read_bytes() for p in archive.rglob("*") if p.is_file())


def test_a_query_file_keeps_its_text_but_not_a_credential_written_in_it(
    archive,  # noqa: F811
    tmp_path,
    capsys,
):
    query = tmp_path / "q.sql"
    query.write_text(
        "-- run with password=hunter2-horse-battery\n"
        "SELECT count(*) AS n FROM messages WHERE body <> 'api_key: sk-live-0000111122223333'\n"
    )
    assert main(["sql", "-f", str(query), "--format", "csv"]) == 0, capsys.readouterr().err
    (event,) = _events(archive)
    assert event["status"] == "ok" and event["query_redacted"] is True
    assert event["query"].startswith("-- run with password=[REDACTED]\nSELECT count(*) AS n")
    assert "api_key: [REDACTED]" in event["query"]
    stored = b"".join(p.read_bytes() for p in (archive / "_access").rglob("*.json"))
    assert b"hunter2-horse-battery" not in stored and b"sk-live-0000111122223333" not in stored


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ([], "export needs a selection"),
        (["--all", "--source", S1], "cannot be combined with --source"),
        (
            ["--source", S1, "--from", "2026-04-01T00:00:00Z", "--to", "2026-03-01T00:00:00Z"],
            "--from 2026-04-01T00:00:00.000Z is not before --to 2026-03-01T00:00:00.000Z",
        ),
        (["--from", "2026-03-02T09:00:00Z", "--to", "2026-03-02T09:00:00Z"], "is not before"),
    ],
)
def test_export_needs_a_selection_or_all_and_a_period_that_is_one(
    archive,  # noqa: F811
    tmp_path,
    capsys,
    argv,
    reason,
):
    out = tmp_path / "production"
    assert main(["export", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and _events(archive) == []  # refused before reading or recording


def test_export_all_says_so_and_exports_every_message(archive, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "everything"
    assert main(["export", "--all", "--format", "jsonl", "--out", str(out)]) == 0
    messages = catalog_rows(os.environ[names.AUDIT_DB], "SELECT count(*) FROM messages")[0][0]
    assert json.loads((out / "manifest.json").read_text())["rows"] == messages
    (event,) = _events(archive)
    assert event["arguments"]["all"] is True and event["rows"] == messages


def test_the_library_refuses_a_reversed_period_too(archive, tmp_path):  # noqa: F811
    from datetime import UTC, datetime

    with (
        connect(os.environ[names.AUDIT_DB], Settings(), read_only=True) as conn,
        pytest.raises(ExportSelectionError, match="is not before"),
    ):
        export(
            conn,
            tmp_path / "x",
            source=S1,
            from_=datetime(2026, 4, 1, tzinfo=UTC),
            to=datetime(2026, 3, 1, tzinfo=UTC),
        )
    assert not (tmp_path / "x").exists()


# -- 5. review next leaves out a flag decided since the catalog was built -----------------------


@pytest.fixture
def flagged(sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real run's flags (sandbox over HTTP, one policy on every message) and its catalog."""
    sb = sandbox_factory(contents=60, sources=1)
    ledger = Ledger(LocalStore(tmp_path / "archive"))
    policies = PolicySet(parse_policies({"policies": [{"name": "all", "sample_rate": 1.0}]}))
    with client_for(sb) as client:
        sync_contents(
            client,
            ledger,
            sb.world.source_ids[0],
            run_id="run-1",
            settings=ContentsSyncSettings(policies=policies),
        )
    audit_db = tmp_path / "audit.duckdb"
    build_catalog(ledger.store, str(audit_db), Settings())
    monkeypatch.setenv(names.ARCHIVE_URI, str(ledger.store.root))
    monkeypatch.setenv(names.AUDIT_DB, str(audit_db))
    monkeypatch.setenv("RC_ARCHIVE_USER", "reviewer@example.com")
    return ledger.store, audit_db


def _next(capsys, *extra: str) -> list[str]:
    assert main(["review", "next", "--format", "json", *extra]) == 0
    return [row["flag_id"] for row in json.loads(capsys.readouterr().out)]


def test_review_next_leaves_out_a_flag_just_decided_without_a_catalog_build(flagged, capsys):
    store, audit_db = flagged
    queued = _next(capsys, "--limit", "1000")
    assert len(queued) > 3
    first, second = queued[0], queued[1]
    assert main(["review", "decide", first, "--decision", "cleared", "--note", "ok"]) == 0
    capsys.readouterr()
    assert _next(capsys, "--limit", "1000") == queued[1:]
    assert _next(capsys, "--limit", "1") == [second]  # the limit counts what is shown
    assert main(["review", "decide", second, "--decision", "escalated", "--note", "look"]) == 0
    capsys.readouterr()
    assert _next(capsys, "--limit", "1000") == queued[2:]
    # After a build the catalog knows them, and the answer is the same.
    build_catalog(store, str(audit_db), Settings())
    assert _next(capsys, "--limit", "1000") == queued[2:]
    assert main(["review", "decide", queued[2], "--decision", "cleared", "--note", "ok"]) == 0
    capsys.readouterr()
    assert _next(capsys, "--limit", "1000") == queued[3:]


# -- 6. two archives whose audit DBs share a folder --------------------------------------------


def test_two_archives_with_audit_dbs_in_one_folder_have_a_catalog_each(
    tmp_path, monkeypatch, capsys
):
    shared = tmp_path / "srv"
    shared.mkdir()
    monkeypatch.delenv(names.ARCHIVE_ICEBERG_CATALOG_URI, raising=False)
    for name, records in (("a", 6), ("b", 9)):
        root = tmp_path / f"archive-{name}"
        commit_records(Ledger(LocalStore(root)), 0, records)
        monkeypatch.setenv(names.ARCHIVE_URI, str(root))
        monkeypatch.setenv(names.AUDIT_DB, str(shared / f"{name}.duckdb"))
        build_catalog(root, shared / f"{name}.duckdb", Settings())
        assert main(["tables", "--check"]) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert f"sqlite:///{shared / f'{name}.iceberg.db'}" in out
        assert "contents: ok (iceberg " + str(records) + " rows" in out
    assert sorted(p.name for p in shared.glob("*.iceberg.db")) == ["a.iceberg.db", "b.iceberg.db"]


# -- 7. the DuckDB snippet `rc-archive tables` prints works offline ------------------------------


def test_the_printed_duckdb_and_pyiceberg_snippets_read_the_table_offline(
    tmp_path, monkeypatch, capsys
):
    root = tmp_path / "archive"
    commit_records(Ledger(LocalStore(root)), 0, 12)
    monkeypatch.setenv(names.ARCHIVE_URI, str(root))
    monkeypatch.setenv(names.AUDIT_DB, str(tmp_path / "audit.duckdb"))
    monkeypatch.delenv(names.ARCHIVE_ICEBERG_CATALOG_URI, raising=False)
    assert main(["tables"]) == 0
    lines = capsys.readouterr().out.splitlines()
    setup = lines[lines.index(next(x for x in lines if x.startswith("DuckDB 1.5.5"))) + 1].strip()
    assert "LOAD iceberg" not in setup and "iceberg.duckdb_extension'" in setup
    contents = lines[lines.index("rc_archive.contents") :]
    scan = next(x for x in contents if x.strip().startswith("DuckDB:")).split("DuckDB:", 1)[1]
    pyiceberg = next(x for x in contents if x.strip().startswith("PyIceberg:")).split(":", 1)[1]

    # A fresh connection with an empty extension directory: nothing can come from a cache or
    # the network; the snippet loads the pinned binaries by path.
    empty = tmp_path / "no-extensions"
    empty.mkdir()
    conn = duckdb.connect(config={"extension_directory": str(empty)})
    try:
        for statement in setup.rstrip(";").split("; "):
            conn.execute(statement)
        assert conn.execute(scan.strip()).fetchone()[0] == 12
    finally:
        conn.close()
    assert list(empty.iterdir()) == []

    namespace: dict = {}
    code = pyiceberg.strip().replace(".to_arrow()", ".to_arrow().num_rows")
    exec(code.replace("load_catalog(", "rows = load_catalog(", 1), namespace)  # noqa: S102
    assert namespace["rows"] == 12


# -- 8. a run without DAGSTER_HOME says it will not show in the UI ------------------------------


def test_a_run_without_dagster_home_says_so_in_its_first_line(
    sandbox_factory, tmp_path, monkeypatch, capsys
):
    sb = sandbox_factory(contents=20, sources=1)
    values = {
        **sb.env,
        names.ARCHIVE_URI: str(tmp_path / "archive"),
        names.AUDIT_DB: str(tmp_path / "audit.duckdb"),
        names.RC_SOURCE_IDS: sb.world.source_ids[0],
    }
    settings = _env_file(tmp_path / "sandbox.env", values, monkeypatch)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["run", "--env-file", str(settings)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "DAGSTER_HOME is not set" in first and "will not show in the Dagster UI" in first

    # With DAGSTER_HOME the run is recorded where the UI reads, and nothing is said.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    note_dagster_instance(os.environ)
    assert capsys.readouterr().out == ""
