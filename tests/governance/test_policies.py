"""Supervision policies: parsing, matching in every script, sampling, and flags committed by
the run that archives a message (sandbox over HTTP, a local archive, the real catalog)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.governance.policies import PolicyError, PolicySet, load_policies, parse_policies
from pipelines.settings import Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from tests.governance.support import catalog_rows
from tests.sync.support import client_for

SHA = "ab" * 32


def _policies(*entries: dict) -> PolicySet:
    return PolicySet(parse_policies({"policies": list(entries)}))


def _terms(policies: PolicySet, text: str, *, outbound: bool = True, channel="WhatsApp"):
    hits = policies.hits(text, outbound=outbound, channel=channel, content_sha256=SHA)
    return [(h.policy, h.matched) for h in hits if h.kind != "sample"]


@pytest.mark.parametrize(
    "term, text",
    [
        ("guaranteed return", "We offer a GUARANTEED RETURN of 12%."),  # Latin, case
        ("Straße", "treffen wir uns in der STRASSE?"),  # ß folds to ss
        ("гарантированный доход", "Это Гарантированный Доход, поверьте."),  # Cyrillic
        ("عائد مضمون", "نقدم لكم عائد مضمون هذا الشهر"),  # Arabic
        ("תשואה מובטחת", "זו תשואה מובטחת ללא סיכון"),  # Hebrew
        ("保证收益", "我们的产品保证收益百分之十"),  # CJK: no spaces between words
        ("🚀🚀", "to the moon 🚀🚀🚀 now"),  # emoji
        ("ΣΟΦΊΑ", "η σοφία του"),  # Greek final and medial sigma fold alike
    ],
)
def test_a_term_is_found_in_every_script(term, text):
    assert _terms(_policies({"name": "p", "terms": [term]}), text) == [("p", term)]


def test_a_spaced_script_term_must_be_a_whole_word():
    policies = _policies({"name": "p", "terms": ["guarantee", "ставка"]})
    assert _terms(policies, "a guaranteed outcome; ставками") == []
    assert _terms(policies, "we guarantee it. (ставка)") == [("p", "guarantee"), ("p", "ставка")]


def test_patterns_scope_and_channels():
    policies = _policies(
        {"name": "cards", "patterns": [r"\b\d{4}(?: ?\d{4}){3}\b"]},
        {"name": "agents-only", "terms": ["promise"], "applies_to": "agent"},
        {"name": "email-only", "terms": ["promise"], "channels": ["Email"]},
    )
    text = "I promise: card 4111 1111 1111 1111"
    assert _terms(policies, text, outbound=True, channel="WhatsApp") == [
        ("agents-only", "promise"),
        ("cards", r"\b\d{4}(?: ?\d{4}){3}\b"),
    ]
    assert _terms(policies, text, outbound=False, channel="Email") == [
        ("cards", r"\b\d{4}(?: ?\d{4}){3}\b"),
        ("email-only", "promise"),
    ]


def test_the_review_sample_is_deterministic_and_near_its_rate():
    policies = _policies({"name": "routine", "sample_rate": 0.1})
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5000)]

    def drawn(outbound: bool) -> list[str]:
        return [
            d
            for d in digests
            if policies.hits("hello", outbound=outbound, channel=None, content_sha256=d)
        ]

    first = drawn(True)
    assert first == drawn(True)  # a re-run draws the same versions
    assert 400 < len(first) < 600
    assert drawn(False) == []  # inbound (customer) messages are not sampled


@pytest.mark.parametrize(
    "text, message",
    [
        ("policies: [", "not valid YAML"),
        ("[]", "expected a mapping with a `policies:` list"),
        ("policies: [{name: a, terms: [x], colour: red}]", "unknown keys colour"),
        ("policies: [{name: a, patterns: ['(']}]", "'(' is not a regular expression"),
        ("policies: [{name: a, sample_rate: 2}]", "sample_rate: expected a number from 0 to 1"),
        ("policies: [{name: a, terms: [x]}, {name: a, terms: [y]}]", "repeated: a"),
        ("policies: [{name: a}]", "it could never flag"),
        ("policies: [{name: a, terms: ['']}]", "expected a list of non-empty strings"),
        ("policies: [{name: a, terms: [x], applies_to: bots}]", "expected agent or all"),
    ],
)
def test_a_bad_policy_file_is_one_clear_error(tmp_path: Path, text, message):
    path = tmp_path / "policies.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=re.escape(message)) as raised:
        load_policies(path)
    assert str(path) in str(raised.value)


def test_a_run_flags_the_new_messages_it_archives_once(sandbox_factory, ledger, tmp_path):
    sb = sandbox_factory(contents=300, sources=1)
    source_id = sb.world.source_ids[0]
    outbound = [c for c in sb.world.all_contents(source_id) if c.get("creatorId")]
    word = max((w for c in outbound for w in (c.get("body") or "").split() if w.isalpha()), key=len)
    expected = {
        c["id"]
        for c in sb.world.all_contents(source_id)
        if word.casefold() in (c.get("body") or "").casefold().split()
    }
    policies = _policies(
        {"name": "lexicon", "terms": [word]}, {"name": "routine", "sample_rate": 0.2}
    )
    settings = ContentsSyncSettings(policies=policies)
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1", settings=settings)
        sync_contents(client, ledger, source_id, run_id="run-2", settings=settings)  # nothing new

    assert verify(ledger.store).ok
    catalog = build_catalog(ledger.store, str(tmp_path / "audit.duckdb"), Settings())
    flagged = catalog_rows(
        catalog.audit_db, "SELECT content_id, run_id FROM flags WHERE policy = 'lexicon'"
    )
    assert {content_id for content_id, _ in flagged} == expected and expected
    assert {run for _, run in flagged} == {"run-1"}
    assert len(flagged) == len(expected)  # once per message version, not again on re-run
    sampled = catalog_rows(
        catalog.audit_db, "SELECT DISTINCT direction FROM flags WHERE kind = 'sample'"
    )
    assert sampled == [("outbound",)]
