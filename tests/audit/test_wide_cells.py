"""The aligned table counts terminal columns, not code points: CJK and emoji take two, combining
marks none (the demo's unanswered-messages table misaligned every Japanese row)."""

from __future__ import annotations

from wcwidth import wcswidth

from pipelines.query.formatting import display_width, render_table
from pipelines.query.queries import QueryResult

ROWS = [
    ("Viber", "注文した商品がまだ届いていません。", 1),
    ("Instagram", "Do you ship to Canada? 🇨🇦", 22),
    ("Linkedin", "Mixed: order №42 — délai? متى؟ מתי? 🤔", 333),
    ("Email", "Cafe\u0301 au lait, 👩‍💻 here", 4444),
]


def _bar_columns(line: str) -> list[int]:
    """Terminal columns at which each ` | ` separator starts."""
    return [wcswidth(line[:index]) for index in range(len(line)) if line.startswith(" | ", index)]


def test_every_separator_sits_in_the_same_terminal_column():
    text = render_table(QueryResult(["channel", "body", "n"], ROWS))
    lines = [line for line in text.splitlines() if " | " in line]
    assert len(lines) == 1 + len(ROWS)
    assert len({tuple(_bar_columns(line)) for line in lines}) == 1, text


def test_cells_are_cut_to_their_width_in_columns():
    text = render_table(
        QueryResult(["body"], [("注文した商品がまだ届いていません。",)]), max_width=9
    )
    cell = text.splitlines()[2]
    assert display_width(cell) <= 9 and cell.endswith("…")
    assert display_width("注文") == 4 and display_width("e\u0301") == 1
