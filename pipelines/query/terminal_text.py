"""Make archived text safe to print on a terminal, and print values in one style.

Message bodies, names and titles are written by customers, so they are hostile input. Printed
raw, `ESC ] 0 ; ... BEL` retitles the auditor's window, `ESC [ 8 m` hides the text that follows,
a CR returns to column 0 and overprints what the tool wrote, a newline starts a line that
looks like the tool's own (a forged transcript header), and the bidi overrides (U+202A-U+202E,
U+2066-U+2069) make text display in another order than it is stored. Every character of that
kind is therefore shown as a visible escape (`\\x1b`, `\\r`, `\\u202e`): the reader sees that
the message held it, and nothing the message holds can act on the terminal. The exact text is
still in the archive and in the exports (JSON, CSV), which are files, not terminals.

The same module fixes how booleans and timestamps look wherever a person reads them (tables,
CSV, transcripts): `true`/`false`, and ISO 8601 in UTC with milliseconds and `Z`
(`2026-03-02T09:00:00.000Z`), the style the manifests and exports already use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# C0 controls (tab and newline included: callers that keep line breaks split on "\n" first),
# DEL, C1 controls, the bidi embeddings/overrides/isolates and marks, and the Unicode line and
# paragraph separators (str.splitlines and some viewers break lines on them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` on one line with every control, bidi and line-separator character escaped."""
    return _UNSAFE.sub(_escape, text)


def terminal_safe_lines(text: str) -> list[str]:
    """`text` split at its newlines, each line made terminal-safe (a CR stays visible as `\\r`:
    left raw it would move the cursor to column 0 and overprint the line's prefix)."""
    return [terminal_safe(line) for line in text.split("\n")]


def quoted_name(name: str) -> str:
    """A person's name or a title in double quotes, with `\\` and `"` escaped, so a name such
    as `Bob" [agent: "Lea` cannot make a header read as if it named someone else."""
    return '"' + terminal_safe(name.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def timestamp_text(value: datetime) -> str:
    """ISO 8601, milliseconds: `...Z` in UTC for an aware time; a naive time (a SQL TIMESTAMP
    without time zone) is shown as it is, without a zone it does not have."""
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bool_text(value: bool) -> str:
    """`true`/`false`, as SQL and JSON spell them (never Python's `True`)."""
    return "true" if value else "false"
