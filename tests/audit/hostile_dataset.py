"""An archive whose text is written by an attacker: bodies that forge transcript headers and
carry terminal escapes, names and titles with CR/LF, thread ids that collide once made into
file names, and cells a spreadsheet would run as formulas. Committed through the real archive
(ArchiveBuilder) and cataloged like the main dataset."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.catalog.build import CatalogReport, build_catalog
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder, canonical_sha256
from tests.audit.dataset import ARCHIVED, S1, T0, content

FORGED_HEADER = (
    "\n2026-12-02 01:20:00 UTC -> outbound Lea Dubois [agent: Lea Dubois]\n    Refund approved."
)
FORGED_ISO = (
    '\n2026-12-02T01:20:00.000Z -> outbound "Lea Dubois" [agent: "Lea Dubois"]'
    "\n    | Refund approved.\n    attachment: refund.pdf (application/pdf, 1 bytes)"
)
OSC_TITLE = "\x1b]0;you have been pwned\x07"
CONCEAL = "\x1b[8m"
RLO = "\u202e"
HOSTILE_BODY = (
    f"hi{FORGED_HEADER}{FORGED_ISO}\rOVERPRINT {OSC_TITLE}{CONCEAL}hidden{RLO}gpj.exe\x9b\x7f"
)

HOSTILE_THREAD = "t-hostile"
CUST_EVIL = "id-evil"
EXT_EVIL = "666"
EVIL_NAME = "Mallory\r\nBcc: victim@example.com\x1b[2J"
EVIL_AGENT = "Agent\nX-Injected: yes"
EVIL_TITLE = "Refund\r\nBcc: everyone@example.com"
LONG_PREFIX = "x" * 130
COLLIDING_THREADS = ("a/b", "a_b", LONG_PREFIX + "-1", LONG_PREFIX + "-2")
FORMULAS = ('=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR")


def _identity(iid: str, name: str) -> dict[str, Any]:
    row = {
        "id": iid,
        "source_id": S1,
        "identity_type": "Customer",
        "display_name": name,
        "identity_group_id": None,
        "user_ids": [],
        "creation_time": T0,
        "last_modified_time": T0,
        "archived_at": ARCHIVED,
        "run_id": "run-test",
    }
    row["raw_json"] = json.dumps(row, default=str)
    row["record_sha256"] = canonical_sha256(row)
    return row


def _agent(ext: str, name: str) -> dict[str, Any]:
    row = {
        "extension_id": ext,
        "name": name,
        "extension_number": ext,
        "email": "evil@example.com",
        "resolution": "found",
        "status": "Enabled",
        "type": "User",
        "fetched_at": ARCHIVED,
        "archived_at": ARCHIVED,
        "run_id": "run-test",
    }
    row["raw_json"] = json.dumps(row, default=str)
    row["record_sha256"] = canonical_sha256(row)
    return row


def hostile_rows() -> list[dict[str, Any]]:
    m = timedelta(minutes=1)
    rows = [
        content(
            "h1",
            S1,
            HOSTILE_THREAD,
            CUST_EVIL,
            0 * m,
            HOSTILE_BODY,
            direction="inbound",
            status="New",
            title=EVIL_TITLE,
        ),
        content(
            "h2",
            S1,
            HOSTILE_THREAD,
            "id-agent",
            1 * m,
            "line one\nline two",
            direction="outbound",
            status="UserReply",
            creator=EXT_EVIL,
        ),
    ]
    for number, thread in enumerate(COLLIDING_THREADS):
        rows.append(
            content(
                f"k{number}",
                S1,
                thread,
                CUST_EVIL,
                (10 + number) * m,
                f"body of {thread}",
                direction="inbound",
                status="New",
            )
        )
    for number, formula in enumerate(FORMULAS):
        rows.append(
            content(
                f"f{number}",
                S1,
                "t-formulas",
                CUST_EVIL,
                (20 + number) * m,
                formula,
                direction="inbound",
                status="New",
            )
        )
    return rows


def build_hostile_catalog(root: Path) -> CatalogReport:
    builder = ArchiveBuilder(str(root / "archive"))
    stream = f"source_id={S1}"
    builder.commit_batch("contents", stream, [("contents", hostile_rows())])
    builder.commit_batch("identities", stream, [("identities", [_identity(CUST_EVIL, EVIL_NAME)])])
    builder.commit_batch("agents", stream, [("agents", [_agent(EXT_EVIL, EVIL_AGENT)])])
    return build_catalog(root / "archive", root / "audit.duckdb", Settings())
