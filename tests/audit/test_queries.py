"""Each pack query's answer equals the answer computed in Python from the same input records."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.query import queries
from pipelines.query.queries import run_query
from tests.audit import expected
from tests.audit.dataset import CUST_A, CUST_B, EXT_DANA, EXT_ELI, UTC


def ids(result, column="id"):
    return [row[column] for row in result.as_dicts()]


@pytest.mark.parametrize("identity", [CUST_A, CUST_B, "id-nobody"])
def test_customer_history_spans_channels(conn, dataset, identity):
    result = run_query(conn, queries.CUSTOMER_HISTORY, {"identity_id": identity})
    assert ids(result) == expected.customer_history(dataset, identity)
    if identity == CUST_A:  # Alice wrote on WhatsApp and (as another identity) on Facebook
        assert {r["source_type"] for r in result.as_dicts()} == {"WhatsApp", "Facebook"}


@pytest.mark.parametrize(
    ("agent", "start", "end"),
    [
        (EXT_DANA, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (EXT_DANA, datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)),
        (EXT_ELI, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)),
    ],
)
def test_agent_messages_in_period(conn, dataset, agent, start, end):
    result = run_query(conn, queries.AGENT_MESSAGES, {"agent_id": agent, "from": start, "to": end})
    assert ids(result) == expected.agent_messages(dataset, agent, start, end)
    assert ids(result)  # every case has at least one message: the test can fail


def test_unanswered_inbound(conn, dataset):
    result = run_query(conn, queries.UNANSWERED_INBOUND)
    assert ids(result, "inbound_id") == expected.unanswered(dataset) == ["c6", "c9"]


def test_response_time_median_and_p90(conn, dataset):
    result = run_query(conn, queries.RESPONSE_TIMES)
    got = {
        (r["agent_id"], r["source_type"]): (r["replies"], r["median_seconds"], r["p90_seconds"])
        for r in result.as_dicts()
    }
    assert got == pytest.approx(expected.response_times(dataset))
    # Known by construction: Dana answered c1 in 120 s and c7 in 1800 s; Eli c3 in 300 s.
    assert got[(EXT_DANA, "WhatsApp")] == (2, 960.0, pytest.approx(1632.0))
    assert got[(EXT_ELI, "WhatsApp")] == (1, 300.0, 300.0)


def test_remotely_deleted_keeps_what_was_said(conn, dataset):
    result = run_query(conn, queries.REMOTELY_DELETED)
    got = {r["id"]: r["body_before_deletion"] for r in result.as_dicts()}
    assert got == expected.remotely_deleted(dataset) == {"c7": "my account number is [removed]"}


def test_edits_before_after(conn, dataset):
    result = run_query(conn, queries.EDITS)
    got = [
        (
            r["id"],
            r["version_number"],
            r["previous_status"],
            r["new_status"],
            r["previous_body"],
            r["new_body"],
            r["previous_remotely_deleted"],
            r["new_remotely_deleted"],
        )
        for r in result.as_dicts()
    ]
    assert got == expected.edits(dataset)
    assert len(got) == 3  # c1 status change, c7 body edit, c7 deletion (c2's re-archive is not)


def test_attachments_by_type(conn, dataset):
    result = run_query(conn, queries.ATTACHMENTS_BY_TYPE)
    got = {
        r["content_type"]: (r["attachments"], r["messages"], r["total_bytes"])
        for r in result.as_dicts()
    }
    assert got == expected.attachments_by_type(dataset)
    assert got["image/jpeg"] == (2, 2, 5048)


def test_conversations_per_channel_per_day(conn, dataset):
    result = run_query(conn, queries.CONVERSATIONS_PER_DAY)
    got = {
        (r["source_id"], r["day"].isoformat()): (r["conversations"], r["messages"])
        for r in result.as_dicts()
    }
    assert got == expected.conversations_per_day(dataset)


@pytest.mark.parametrize("term", ["order", "ORDER", "pin", "zzz-not-there"])
def test_term_search(conn, dataset, term):
    result = run_query(conn, queries.TERM_SEARCH, {"term": term})
    assert ids(result) == expected.term_search(dataset, term)


def test_term_search_wildcards_are_literal(conn):
    # "%" typed by a person must not match everything.
    for typed in ("%", "_", "o_der", "%order"):
        assert run_query(conn, queries.TERM_SEARCH, {"term": typed}).rows == []
    injected = run_query(conn, queries.TERM_SEARCH, {"term": "x' OR 1=1 --"})
    assert injected.rows == []


def test_quarantined_records_and_reasons(conn, dataset):
    result = run_query(conn, queries.QUARANTINED)
    assert [r["reason"] for r in result.as_dicts()] == [q["reason"] for q in dataset.quarantine]


def test_every_pack_query_runs(conn):
    params = {
        "customer_history": {"identity_id": CUST_A},
        "agent_messages": {
            "agent_id": EXT_DANA,
            "from": datetime(2026, 1, 1, tzinfo=UTC),
            "to": datetime(2027, 1, 1, tzinfo=UTC),
        },
        "term_search": {"term": "order"},
    }
    assert len(queries.QUERY_PACK) >= 10
    for name, sql in queries.QUERY_PACK.items():
        result = run_query(conn, sql, params.get(name))
        assert result.columns, name
