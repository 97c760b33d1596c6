"""`rc-archive` commands on a real archive and catalog: answers, one-line reasons on bad input."""

from __future__ import annotations

import json
import os
import re

import pytest

from cli.main import main


@pytest.fixture(scope="module")
def archived(sandbox, tmp_path_factory):
    """One source of the session sandbox archived once, through `rc-archive run` with its
    attachment downloads unpaced (`--downloads-per-second 0`: a config Dagster refused would
    fail the run)."""
    root = tmp_path_factory.mktemp("cli")
    env_file = root / "sandbox.env"
    settings = dict(sandbox.env)
    settings["ARCHIVE_URI"] = str(root / "archive")
    settings["AUDIT_DB"] = str(root / "audit.duckdb")
    settings["RC_SOURCE_IDS"] = sandbox.world.source_ids[0]
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    saved = dict(os.environ)  # --env-file writes into the process environment
    os.environ.pop("DAGSTER_HOME", None)
    try:
        assert main(["run", "--downloads-per-second", "0", "--env-file", str(env_file)]) == 0
        yield env_file, sandbox.world.source_ids[0]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_run_prints_progress_and_a_summary(archived, capsys):
    env_file, source_id = archived
    assert main(["run", "--env-file", str(env_file)]) == 0
    out = capsys.readouterr().out
    assert f"[1/1] archiving source {source_id}" in out
    assert "new records" in out and "pass" in out
    header = next(line for line in out.splitlines() if line.startswith("source_id"))
    assert "| attachment_files | attachment_bytes |" in header


def test_sql_answers_with_bound_parameters(archived, capsys, sandbox):
    env_file, source_id = archived
    query = "SELECT count(*) AS n FROM messages WHERE source_id = $1"
    assert (
        main(["sql", query, "--param", source_id, "--format", "csv", "--env-file", str(env_file)])
        == 0
    )
    assert capsys.readouterr().out.split()[1] == str(len(sandbox.world.content_ids(source_id)))


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["sql", "DELETE FROM contents"], "read-only"),
        (["sql", "SELEC 1"], "does not parse"),
        (["thread", "0000"], "not in the audit catalog"),
        (["thread", "x", "--as-of", "yesterday"], "not a time"),
        (["run", "--source", "../etc"], "24 hexadecimal"),
        (["run", "--downloads-per-second", "-1"], "must be 0 (unpaced) or more"),
    ],
)
def test_bad_input_ends_with_one_line_and_exit_2(archived, capsys, argv, reason):
    env_file, _ = archived
    assert main([*argv, "--env-file", str(env_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err and len(err.splitlines()) == 1


def test_missing_archive_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "nowhere"))
    assert main(["verify"]) == 2
    assert "no archive at" in capsys.readouterr().err


def test_verify_and_sources_on_a_clean_archive(archived, capsys):
    env_file, source_id = archived
    assert main(["verify", "--env-file", str(env_file)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["sources", "--env-file", str(env_file)]) == 0
    assert source_id in capsys.readouterr().out


def test_export_writes_a_load_file_with_hashes(archived, tmp_path, capsys):
    env_file, source_id = archived
    out = tmp_path / "production"
    assert (
        main(
            [
                "export",
                "--source",
                source_id,
                "--format",
                "jsonl",
                "--out",
                str(out),
                "--env-file",
                str(env_file),
            ]
        )
        == 0
    )
    assert (out / "manifest.json").exists()


def test_sql_lists_the_query_pack(capsys):
    from pipelines.query.queries import QUERY_PACK

    assert main(["sql", "--list-queries"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == sorted(QUERY_PACK)
    assert re.search(r"^customer_history +--param identity_id=\.\.\.$", out, re.MULTILINE)


def test_sql_runs_a_named_query_with_named_parameters(archived, capsys, sandbox):
    env_file, source_id = archived
    argv = ["sql", "--query", "capture_lag", "--format", "csv", "--env-file", str(env_file)]
    assert main(argv) == 0
    assert source_id in capsys.readouterr().out
    identity = next(
        iter(
            sandbox.world.content_json(cid) for cid in sorted(sandbox.world.content_ids(source_id))
        )
    )["authorIdentityId"]
    argv = ["sql", "--query", "customer_history", "--param", f"identity_id={identity}"]
    assert main([*argv, "--format", "json", "--env-file", str(env_file)]) == 0
    assert identity in capsys.readouterr().out


def test_sql_term_search_matches_percent_literally(archived, capsys):
    env_file, _ = archived
    argv = ["sql", "--query", "term_search", "--param", "term=%", "--format", "json"]
    assert main([*argv, "--env-file", str(env_file)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all("%" in row["body"] for row in rows)  # `%` is not a wildcard matching everything
    assert (
        main(
            [
                "sql",
                "SELECT count(*) AS n FROM messages",
                "--format",
                "json",
                "--env-file",
                str(env_file),
            ]
        )
        == 0
    )
    assert len(rows) < json.loads(capsys.readouterr().out)[0]["n"]


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["sql", "--query", "first_reply_time"], "valid names: agent_messages, "),
        (["sql", "--query", "customer_history"], "missing identity_id"),
        (["sql", "--query", "edits", "--param", "x=1"], "unknown x"),
        (["sql"], "give one query"),
        (["sql", "SELECT 1", "--query", "edits"], "give one query"),
        (["sql", "-f", "/nonexistent/q.sql"], "-f '/nonexistent/q.sql'"),
    ],
)
def test_sql_bad_query_choice_is_one_line(archived, capsys, argv, reason):
    env_file, _ = archived
    assert main([*argv, "--env-file", str(env_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err and len(err.splitlines()) == 1


def test_sql_from_a_file_and_from_stdin(archived, capsys, tmp_path, monkeypatch):
    import io

    env_file, _ = archived
    query = tmp_path / "q.sql"
    query.write_text("SELECT 41 + 1 AS answer")
    assert main(["sql", "-f", str(query), "--format", "csv", "--env-file", str(env_file)]) == 0
    assert capsys.readouterr().out.split() == ["answer", "42"]
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 'from stdin' AS s"))
    assert main(["sql", "-", "--format", "csv", "--env-file", str(env_file)]) == 0
    assert capsys.readouterr().out.split("\n")[1] == "from stdin"
