"""`rc-archive` commands on a real archive and catalog: answers, one-line reasons on bad input."""

from __future__ import annotations

import os

import pytest

from pipelines.cli import main


@pytest.fixture(scope="module")
def archived(sandbox, tmp_path_factory):
    """One source of the session sandbox archived once, through `rc-archive run`."""
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
        assert main(["run", "--env-file", str(env_file)]) == 0
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
