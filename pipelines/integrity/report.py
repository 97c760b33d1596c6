"""`cert.html`: a certificate's facts for people, next to the certificate file.

One self-contained page (inline CSS and SVG, no external asset, no script): the source, the
period, the counts, the Merkle root and size, the chain heads, the signature's key id, and a
bar chart of record versions per day of the period. The JSON certificate stays the evidence;
the page only shows what it says.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.charts import bar_chart
from pipelines.integrity.certificate import COUNTED

BAR_AREA = (720, 160)  # width, height of the chart's bars area in px


def render_html(signed: dict[str, Any]) -> str:
    body = signed["certificate"]
    counts = body["counts"]
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(name)}</th><td>{counts[name]['period']:,}</td>"
        f"<td>{counts[name]['total']:,}</td></tr>"
        for name in COUNTED
        if name in counts  # a certificate issued before a table was certified
    )
    heads = "".join(
        f"<tr><th>{e(table)}</th><td>{head['seq']}</td><td><code>{e(head['sha256'])}</code></td>"
        "</tr>"
        for table, head in sorted(body["chain_heads"].items())
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Archive certificate {e(body["source_id"])} {e(body["period"])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:820px;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}
th,td{{border:1px solid #ccc;padding:.3em .7em;text-align:left}}
td{{font-variant-numeric:tabular-nums}} code{{font-size:12px}}
</style></head><body>
<h1>Archive certificate</h1>
<p>Source <b>{e(body["source_id"])}</b>, period <b>{e(body["period"])}</b>
({e(body["period_start"])} to {e(body["period_end"])}), issued {e(body["issued_at"])} by
rc-archive {e(body["tool_version"])} for the archive <code>{e(body["archive_uri"])}</code>.</p>
<h2>What the archive held</h2>
<table><tr><th></th><th>in the period</th><th>in total</th></tr>{rows}</table>
<h2>Capture lag</h2>
{_lag(body["counts"].get("capture_lag"))}
<h2>Reconciliation against the API</h2>
{_reconcile(body.get("reconcile"))}
<h2>Record versions per day</h2>
{_chart(body)}
<h2>Merkle log of record versions</h2>
<p>{body["merkle"]["tree_size"]:,} versions, root <code>{e(body["merkle"]["root"])}</code></p>
<h2>Ledger heads</h2>
<table><tr><th>ledger</th><th>seq</th><th>manifest SHA-256</th></tr>{heads}</table>
<p>Signed {e(signed["signature"]["algorithm"])}, key id
<code>{e(signed["signature"]["key_id"])}</code>. Check it with
<code>rc-archive verify --certificate FILE.json --public-key KEY.pub</code>.</p>
</body></html>
"""


def _lag(lag: dict[str, Any] | None) -> str:
    """How long the period's versions waited to be archived: figures and one bar per bucket."""
    if not lag or not lag.get("versions"):
        return "<p>No versions in the period.</p>"
    figures = (
        f"<p>{lag['versions']:,} versions: median {lag['p50_seconds']:,} s, 95th percentile "
        f"{lag['p95_seconds']:,} s, longest {lag['max_seconds']:,} s (archived_at minus the "
        "version's lastModifiedTime).</p>"
    )
    return figures + bar_chart(list(lag["buckets"].items()), "capture lag")


def _reconcile(fact: dict[str, Any] | None) -> str:
    """The API's side: a full reconciliation's counts, or why the certificate has none."""
    e = html.escape
    if not fact:
        return "<p>This certificate predates reconciliation facts.</p>"
    if not fact.get("performed"):
        return (
            "<p><b>Not performed</b>: " + e(str(fact.get("reason", ""))) + ". This certificate "
            "proves what the archive held, not that it held everything the API had.</p>"
        )
    verdict = "complete" if fact["complete"] else "NOT complete"
    rows = "".join(
        f"<tr><th>{e(label)}</th><td>{e(str(fact.get(key)))}</td></tr>"
        for label, key in (
            ("at", "at"),
            ("mode", "mode"),
            ("ids the API listed", "api_ids_checked"),
            ("ids the archive holds", "archived_ids"),
            ("ids missing from the archive", "missing"),
            ("SHA-256 of the missing ids", "missing_ids_sha256"),
            ("ids the archive holds that the API does not list", "not_in_api"),
            ("listing finished", "listing_complete"),
        )
        if key in fact
    )
    invented = ""
    if fact.get("not_in_api"):
        invented = (
            f"<p><b>{fact['not_in_api']} archived id(s) are not listed by the API</b> (messages "
            "RingCentral never had): " + e(", ".join(fact.get("not_in_api_ids") or [])) + "</p>"
        )
    return (
        f"<p>The archive was <b>{verdict}</b> against the API.</p><table>{rows}</table>{invented}"
    )


def _chart(body: dict[str, Any]) -> str:
    per_day: dict[str, int] = body["counts"]["per_day"]
    start = date.fromisoformat(body["period_start"][:10])
    end = date.fromisoformat(body["period_end"][:10])
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    width, height = BAR_AREA
    top = max(per_day.values(), default=0) or 1
    step = width / len(days)
    bars = []
    for i, day in enumerate(days):
        value = per_day.get(day.isoformat(), 0)
        bar = round(height * value / top, 1)
        x = round(40 + i * step, 1)
        bars.append(
            f'<rect x="{x}" y="{10 + height - bar}" width="{round(step * 0.8, 1)}" '
            f'height="{bar}" fill="#4a78b0"><title>{day.isoformat()}: {value}</title></rect>'
        )
        if day.day in (1, 8, 15, 22, 29):
            bars.append(
                f'<text x="{x}" y="{height + 26}" font-size="11">{day.strftime("%d")}</text>'
            )
    axis = (
        f'<text x="0" y="18" font-size="11">{top}</text>'
        f'<text x="0" y="{height + 10}" font-size="11">0</text>'
        f'<line x1="38" y1="{height + 10}" x2="{width + 40}" y2="{height + 10}" stroke="#888"/>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 50}" height="{height + 36}" '
        f'role="img" aria-label="record versions per day">{axis}{"".join(bars)}</svg>'
    )


def write_html(signed: dict[str, Any], certificate_path: str | Path) -> Path:
    """Write `<certificate>.html` next to the certificate; returns its path."""
    path = Path(certificate_path).with_suffix(".html")
    path.write_text(render_html(signed), encoding="utf-8")
    return path
