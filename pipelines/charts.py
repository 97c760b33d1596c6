"""Bar charts as inline SVG, for the HTML reports handed to compliance officers.

Why SVG by hand: a report must open offline, years later, in any browser, with no script and
no library; a few rectangles and labels are all a count per category needs.
"""

from __future__ import annotations

import html
from collections.abc import Sequence


def bar_chart(items: Sequence[tuple[str, int]], label: str, *, label_width: int = 90) -> str:
    """One horizontal bar per (label, count), scaled to the largest; each bar has a tooltip."""
    if not items:
        return "<p>None.</p>"
    e = html.escape
    top = max(count for _, count in items) or 1
    bars = []
    for i, (name, count) in enumerate(items):
        width = round(500 * count / top, 1)
        y = 6 + i * 24
        bars.append(
            f'<text x="0" y="{y + 13}" font-size="11">{e(name)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{width}" height="16" fill="#4a78b0">'
            f"<title>{e(name)}: {count}</title></rect>"
            f'<text x="{label_width + 5 + width}" y="{y + 13}" font-size="11">{count:,}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + 590}" '
        f'height="{12 + 24 * len(items)}" role="img" aria-label="{e(label)}">{"".join(bars)}</svg>'
    )
