"""The shell commands README.md and docs/*.md show, as tests/docs/test_doc_commands.py runs them.

What is a command:

- In fenced blocks (```sh, ```bash, ```shell, ```console, ```text and bare ```), a logical line
  (a trailing backslash continues it). In a block where any line starts with `$ ` (the
  transcripts: ```text / ```console), only those lines are commands and the rest is output.
- Of those lines, the ones whose program, after `NAME=value` assignments and a `cd DIR &&`, is
  the project's: `rc-archive` (or `.venv/bin/rc-archive`), `python` / `python3` (or
  `.venv/bin/python`) and `make`. Other programs (aws, dagster, kubectl, duckdb, mv) are not
  run. An `export ...` line is the block's setup: it runs before each later command of its
  block, in the same shell.

Markers, HTML comments on the lines right above a block's opening fence (invisible on GitHub),
are the reviewed decisions about a block; without one, every command of a block is run and must
exit 0:

    <!-- doc-test: skip (REASON) -->            skip every command of the block, for REASON
    <!-- doc-test: skip `TEXT` (REASON) -->     skip the commands containing TEXT
    <!-- doc-test: exit N -->                   the block's commands exit with N
    <!-- doc-test: file NAME -->                the block is the file NAME: written into the
                                                working directory of every documented command

Synopsis lines (`rc-archive hold list [--format table|csv|json]`) are made runnable by
`runnable`: every optional part is kept (so each option name is checked), the first of
alternatives is taken (`table|csv|json` -> `table`, `--source ID | --thread ID` -> `--source
ID`), `...` is dropped and each placeholder (`ID`, `NAME`, `<source>`) is given a value by the
caller.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console", "text"}
PROJECT_PROGRAMS = {
    "rc-archive": "rc-archive",
    ".venv/bin/rc-archive": "rc-archive",
    "python": "python",
    "python3": "python",
    ".venv/bin/python": "python",
    "make": "make",
}

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip\s+(?:`(?P<text>[^`]+)`\s+)?\((?P<reason>[^)]*\S[^)]*)\)$")
EXIT = re.compile(r"^exit\s+(?P<code>\d+)$")
FILE = re.compile(r"^file\s+(?P<name>[\w.-]+(?:/[\w.-]+)*)$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(?:\.pub)?$")
ANGLE = re.compile(r"<([a-z_][a-z0-9_-]*)>")


@dataclass(frozen=True)
class Block:
    path: str  # relative to the checkout, e.g. "docs/governance.md"
    line: int  # 1-based line of the opening fence
    lang: str
    lines: tuple[str, ...]  # the content, indentation of the fence removed
    markers: tuple[str, ...]  # the doc-test markers above it (their bodies)


@dataclass(frozen=True)
class Command:
    path: str
    line: int  # 1-based line where the command starts
    block_line: int
    text: str  # continuations joined, prompt removed
    program: str  # "rc-archive", "python" or "make"
    setup: tuple[str, ...] = ()  # the block's `export` lines before it
    skip: str | None = None  # the marker's reason
    expect_exit: int = 0

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def block_id(self) -> str:
        return f"{self.path}:{self.block_line}"


@dataclass
class Docs:
    blocks: list[Block] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # `file NAME` blocks: name -> content
    errors: list[str] = field(default_factory=list)  # malformed markers, with their place


def doc_paths(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


def read_blocks(path: Path, repo: Path = REPO) -> tuple[list[Block], list[str]]:
    """Every fenced block of one Markdown file, with the doc-test markers right above it."""
    relative = path.relative_to(repo).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    errors: list[str] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            marker = MARKER.match(lines[i])
            if marker and not _next_is_fence(lines, i):
                errors.append(f"{relative}:{i + 1}: a doc-test marker that no block follows")
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        content = tuple(_dedent(line, indent) for line in lines[i + 1 : end])
        blocks.append(Block(relative, i + 1, opening["lang"], content, _markers_above(lines, i)))
        i = end + 1
    return blocks, errors


def _next_is_fence(lines: list[str], i: int) -> bool:
    for line in lines[i + 1 :]:
        if FENCE.match(line):
            return True
        if not MARKER.match(line):
            return False
    return False


def _markers_above(lines: list[str], fence: int) -> tuple[str, ...]:
    found = []
    i = fence - 1
    while i >= 0 and (marker := MARKER.match(lines[i])):
        found.append(marker["body"])
        i -= 1
    return tuple(reversed(found))


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip()


def logical_lines(block: Block) -> list[tuple[int, str]]:
    """(line number, text) of each command line of a block: prompts removed in a transcript,
    output and blank lines left out, continuation lines joined."""
    transcript = any(line.startswith("$ ") for line in block.lines)
    result: list[tuple[int, str]] = []
    i = 0
    while i < len(block.lines):
        line = block.lines[i]
        number = block.line + 1 + i
        i += 1
        if transcript:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [line]
        while parts[-1].rstrip().endswith("\\") and i < len(block.lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            parts.append(block.lines[i].strip())
            i += 1
        result.append((number, " ".join(part.strip() for part in parts)))
    return result


def words(text: str) -> list[str]:
    """Shell words, quotes kept (`"a b"` is one word); a `#` comment ends the line."""
    found: list[str] = []
    current = ""
    quote = ""
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "'\"":
            current += char
            quote = char
        elif char.isspace():
            if current:
                found.append(current)
            current = ""
        elif char == "#" and not current:
            break
        else:
            current += char
    if current:
        found.append(current)
    return found


def program_of(text: str) -> str | None:
    """The command's program: after `NAME=value` words and a leading `cd DIR &&`."""
    tokens = words(text)
    while tokens and ASSIGNMENT.match(tokens[0]):
        tokens.pop(0)
    if tokens and tokens[0] == "cd" and "&&" in tokens:
        tokens = tokens[tokens.index("&&") + 1 :]
        while tokens and ASSIGNMENT.match(tokens[0]):
            tokens.pop(0)
    return tokens[0] if tokens else None


def _apply_markers(block: Block, errors: list[str]) -> tuple[list[tuple[str | None, str]], int]:
    """The block's skips as (text or None for all, reason) and its expected exit code."""
    skips: list[tuple[str | None, str]] = []
    expect = 0
    for body in block.markers:
        if skip := SKIP.match(body):
            skips.append((skip["text"], skip["reason"].strip()))
        elif code := EXIT.match(body):
            expect = int(code["code"])
        elif not FILE.match(body):
            errors.append(
                f"{block.path}:{block.line}: doc-test marker {body!r} is none of "
                "`skip (REASON)`, ``skip `TEXT` (REASON)``, `exit N`, `file NAME`"
            )
    return skips, expect


def collect(repo: Path = REPO) -> Docs:
    docs = Docs()
    for path in doc_paths(repo):
        blocks, errors = read_blocks(path, repo)
        docs.blocks += blocks
        docs.errors += errors
    for block in docs.blocks:
        file_names = [m["name"] for body in block.markers if (m := FILE.match(body))]
        skips, expect = _apply_markers(block, docs.errors)
        if file_names:
            for name in file_names:
                if name in docs.files:
                    docs.errors.append(f"{block.path}:{block.line}: file {name} given twice")
                docs.files[name] = "\n".join(block.lines) + "\n"
            continue
        if block.lang not in SHELL_LANGUAGES:
            continue
        setup: list[str] = []
        used: set[int] = set()
        for number, text in logical_lines(block):
            program = program_of(text)
            if program == "export":
                setup.append(text)
                continue
            if program not in PROJECT_PROGRAMS:
                continue
            reason = None
            for index, (needle, why) in enumerate(skips):
                if needle is None or needle in text:
                    reason = why
                    used.add(index)
                    break
            docs.commands.append(
                Command(
                    path=block.path,
                    line=number,
                    block_line=block.line,
                    text=text,
                    program=PROJECT_PROGRAMS[program],
                    setup=tuple(setup),
                    skip=reason,
                    expect_exit=expect,
                )
            )
        for index, (needle, _) in enumerate(skips):
            if index not in used:
                what = f"`{needle}`" if needle else "the block"
                docs.errors.append(
                    f"{block.path}:{block.line}: doc-test skip of {what} matches no command"
                )
    return docs


# -- making a synopsis runnable -----------------------------------------------------------------

Resolver = Callable[[str | None, str], str | None]


def runnable(text: str, resolve: Resolver) -> str:
    """A documented line as a shell command: the synopsis notation expanded (module docstring),
    each placeholder replaced by `resolve(option before it, placeholder)` (shell-quoted), or
    left as it is when `resolve` returns None. Quoted words are never touched."""
    tokens = words(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if _quoted(token):
            out.append(token)
            continue
        if token == "|" and i < len(tokens) and _bare(tokens[i]).startswith("--"):
            # `--source ID | --thread ID`: keep the first alternative, drop this one
            i += 1
            if i < len(tokens) and PLACEHOLDER.match(_bare(tokens[i])):
                i += 1
            continue
        token = _bare(token)
        if token in ("", "..."):
            continue
        if "|" in token and not token.startswith(("'", '"')):
            token = token.split("|")[0]
        option = out[-1] if out and out[-1].startswith("--") else None
        if PLACEHOLDER.match(token) and not ASSIGNMENT.match(token):
            value = resolve(option, token)
            out.append(token if value is None else shlex.quote(value))
            continue
        token = ANGLE.sub(lambda m: resolve(None, f"<{m[1]}>") or m[0], token)
        out.append(token)
    return " ".join(out)


def _quoted(token: str) -> bool:
    return "'" in token or '"' in token


def _bare(token: str) -> str:
    """Without the brackets of a synopsis: `[--format` -> `--format`, `json]` -> `json`."""
    return token.lstrip("[(").rstrip("])")
