"""A reviewer works the queue over real HTTP: claims a flag (another reviewer cannot decide it
then), records a decision with a reason, escalates another; the decisions are the library's
write-once records (`_reviews/`) with the reviewer as their author, the flags leave the queue
at once, and each action is exactly one access event."""

from __future__ import annotations

import re

from pipelines.archive.store import LocalStore
from pipelines.governance.review import review_log
from tests.console.support import access_events, csrf_of, signed_in


def _queue(client) -> list[str]:
    page = client.get("/review")
    assert page.status_code == 200 and 'id="review-queue"' in page.text
    return re.findall(r'<tr class="review-item" data-flag-id="([0-9a-f]{64})"', page.text)


def _decisions(root) -> list[dict]:
    return [record.body for record in review_log(LocalStore(root)).records()]


def test_claim_decide_and_escalate_are_recorded(server, console_archive):
    root = console_archive["root"]
    with signed_in(server, "rita") as rita, signed_in(server, "rob") as rob:
        queue = _queue(rita)
        assert len(queue) >= 3
        first, second = queue[0], queue[1]
        item = rita.get(f"/review/{first}")
        assert item.status_code == 200 and 'id="history"' in item.text
        for form in ("claim-form", "decide-form", "escalate-form"):
            assert f'id="{form}"' in item.text
        csrf = csrf_of(item.text)

        before = len(access_events(root))
        claimed = rita.post(f"/review/{first}/claim", data={"csrf": csrf})
        assert claimed.status_code == 303 and claimed.headers["location"] == f"/review/{first}"
        assert [
            (e["command"], e["arguments"]["action"], e["user"])
            for e in access_events(root)[before:]
        ] == [("review", "claim", "rita")]

        # Rob sees the claim and cannot decide the flag while Rita holds it.
        assert "rita" in rob.get("/review").text
        rob_csrf = csrf_of(rob.get("/review").text)
        taken = rob.post(
            f"/review/{first}/decide",
            data={"decision": "cleared", "reason": "mine", "csrf": rob_csrf},
        )
        assert taken.status_code == 409
        assert all(d["flag_id"] != first for d in _decisions(root))

        before = len(access_events(root))
        decided = rita.post(
            f"/review/{first}/decide",
            data={"decision": "cleared", "reason": "standard offer, approved", "csrf": csrf},
        )
        assert decided.status_code == 303
        escalated = rita.post(
            f"/review/{second}/escalate", data={"reason": "promises a return", "csrf": csrf}
        )
        assert escalated.status_code == 303
        events = access_events(root)[before:]
        assert [
            (e["command"], e["arguments"]["action"], e["arguments"]["decision"], e["user"])
            for e in events
        ] == [
            ("review", "decide", "cleared", "rita"),
            ("review", "decide", "escalated", "rita"),
        ]

        # The library sees both decisions, written once, by Rita.
        by_flag = {d["flag_id"]: d for d in _decisions(root)}
        assert by_flag[first]["decision"] == "cleared"
        assert by_flag[first]["note"] == "standard offer, approved"
        assert by_flag[second]["decision"] == "escalated"
        assert {by_flag[first]["user"], by_flag[second]["user"]} == {"rita"}

        # Decided flags leave the queue at once; the history shows the decision.
        assert {first, second}.isdisjoint(_queue(rita))
        history = rita.get(f"/review/{first}").text.split('id="history"')[1]
        assert "standard offer, approved" in history and "cleared" in history


def test_a_decision_needs_a_reason_and_a_known_decision(server, console_archive):
    root = console_archive["root"]
    with signed_in(server, "rita") as rita:
        flag = _queue(rita)[-1]
        csrf = csrf_of(rita.get(f"/review/{flag}").text)
        before = len(access_events(root))
        no_reason = rita.post(
            f"/review/{flag}/decide", data={"decision": "cleared", "reason": " ", "csrf": csrf}
        )
        assert no_reason.status_code == 400
        unknown = rita.post(
            f"/review/{flag}/decide", data={"decision": "ignored", "reason": "x", "csrf": csrf}
        )
        assert unknown.status_code == 400
        assert rita.get("/review/nothex").status_code == 400
        assert rita.get(f"/review/{'0' * 64}").status_code == 404
    assert all(d["flag_id"] != flag for d in _decisions(root))
    # Refused before acting: only the unknown flag's page view was a (failed) read.
    assert [(e["command"], e["status"]) for e in access_events(root)[before:]] == [
        ("review", "failed")
    ]
