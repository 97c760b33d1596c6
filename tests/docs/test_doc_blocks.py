"""How tests/docs/doc_blocks.py reads the docs: which lines are commands, the markers, synopses."""

from __future__ import annotations

from pathlib import Path

from tests.docs.doc_blocks import collect, runnable

DOC = """# A doc

```sh
make demo   # the demo
export TOKEN=$(python -c 'print(1)')
rc-archive sources      # a comment
aws s3api create-bucket --bucket B
ARCHIVE_URI=/srv/a AUDIT_DB=/srv/a.duckdb rc-archive catalog
```

```text
$ rc-archive thread 65c42333b9eca9e4000003b5
Thread 65c42333b9eca9e4000003b5 as of now (12 messages)
$ cd ~ && duckdb -readonly x.duckdb
$ rc-archive hold place --matter NAME \\
    --thread ID --reason TEXT
```

```
_access/<YYYY-MM-DD>/<seq:010d>.json      seq from 0 each UTC day
rc-archive review verify
```

```python
rc-archive not-a-shell-block
```
"""

MARKED = """# Markers

<!-- doc-test: skip (needs AWS credentials) -->
```sh
rc-archive verify
```

<!-- doc-test: skip `rc-archive receive` (a server) -->
<!-- doc-test: exit 3 -->
```sh
rc-archive receive --port 8080
rc-archive verify
```

<!-- doc-test: file retention.yaml -->
```yaml
default_years: 7
```

<!-- doc-test: skip -->
```sh
rc-archive sources
```

<!-- doc-test: skip `rc-archive nothing` (matches nothing) -->
```sh
rc-archive sources
```

<!-- doc-test: exit 1 -->
Not a block.
"""


def _docs(tmp_path: Path, readme: str, other: str = "") -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs" / "other.md").write_text(other)
    return tmp_path


def test_commands_are_the_project_programs_of_shell_blocks_and_transcripts(tmp_path):
    docs = collect(_docs(tmp_path, DOC))
    found = [(c.path, c.line, c.program, c.text) for c in docs.commands]
    assert found == [
        ("README.md", 4, "make", "make demo   # the demo"),
        ("README.md", 6, "rc-archive", "rc-archive sources      # a comment"),
        (
            "README.md",
            8,
            "rc-archive",
            "ARCHIVE_URI=/srv/a AUDIT_DB=/srv/a.duckdb rc-archive catalog",
        ),
        ("README.md", 12, "rc-archive", "rc-archive thread 65c42333b9eca9e4000003b5"),
        (
            "README.md",
            15,
            "rc-archive",
            "rc-archive hold place --matter NAME --thread ID --reason TEXT",
        ),
        ("README.md", 21, "rc-archive", "rc-archive review verify"),
    ]
    # the export line is the setup of the later commands of its block
    assert docs.commands[1].setup == ("export TOKEN=$(python -c 'print(1)')",)
    assert docs.commands[0].setup == ()
    assert docs.errors == []


def test_markers_skip_expect_and_provide_files(tmp_path):
    docs = collect(_docs(tmp_path, "# Readme\n", MARKED))
    by_line = {c.line: c for c in docs.commands}
    assert by_line[5].skip == "needs AWS credentials"
    assert by_line[11].skip == "a server" and by_line[11].expect_exit == 3
    assert by_line[12].skip is None and by_line[12].expect_exit == 3
    assert docs.files == {"retention.yaml": "default_years: 7\n"}
    assert sorted(docs.errors) == [
        "docs/other.md:21: doc-test marker 'skip' is none of `skip (REASON)`, "
        "``skip `TEXT` (REASON)``, `exit N`, `file NAME`",
        "docs/other.md:26: doc-test skip of `rc-archive nothing` matches no command",
        "docs/other.md:30: a doc-test marker that no block follows",
    ]


def _resolve(option, placeholder):
    return {
        ("--source", "ID"): "S1",
        ("--thread", "ID"): "T1",
        ("--matter", "NAME"): "a matter",
        (None, "FLAG_ID"): "f00d",
        (None, "<source>"): "S1",
    }.get((option, placeholder))


def test_a_synopsis_becomes_a_command():
    assert (
        runnable(
            "rc-archive hold place --matter NAME (--source ID | --thread ID | --query SQL) "
            "[--from T --to T] --reason TEXT",
            _resolve,
        )
        == "rc-archive hold place --matter 'a matter' --source S1 --from T --to T --reason TEXT"
    )
    assert runnable("rc-archive review next [--limit 20] [--format table|csv|json]", _resolve) == (
        "rc-archive review next --limit 20 --format table"
    )
    assert runnable("rc-archive review decide FLAG_ID --decision cleared|escalated", _resolve) == (
        "rc-archive review decide f00d --decision cleared"
    )
    assert runnable("rc-archive rescan [--policy NAME ...] [--check|--rebuild]", _resolve) == (
        "rc-archive rescan --policy NAME --check"
    )
    assert runnable("rc-archive verify --certificate certs/<source>-2026-11.json", _resolve) == (
        "rc-archive verify --certificate certs/S1-2026-11.json"
    )


def test_quoted_words_redirections_and_assignments_are_left_alone():
    line = 'A_B=1 rc-archive sql "SELECT a|b FROM [x] -- ID" > out.csv   # ID'
    assert runnable(line, _resolve) == 'A_B=1 rc-archive sql "SELECT a|b FROM [x] -- ID" > out.csv'
