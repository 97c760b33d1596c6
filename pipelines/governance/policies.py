"""Supervision policies (`policies.yaml`): lexicon terms, regular expressions and a review
sample, applied to every new message version in the run that archives it.

```yaml
policies:
  - name: guarantees            # the flags' `policy`
    terms: ["guaranteed return", "garantierte Rendite", "гарантированный доход", "保证收益"]
    patterns: ['\\b\\d{13,19}\\b']   # Python regular expressions, matched case-insensitively
    applies_to: agent           # agent (outbound, sent by an agent) | all (default)
    channels: [WhatsApp, Email] # source types; absent: every channel
    sample_rate: 0.02           # share of agent messages drawn for routine review
```

Terms are compared after Unicode case folding (`str.casefold`, so ß matches SS and Σ/σ/ς
match one another), in every script. A term whose first or last character is a letter or
digit of a script written with spaces must stand as a whole word there (no "guarantee" inside
"guaranteed"); a term edge in CJK, Thai or an emoji matches anywhere, as those scripts do not
separate words. Why one Aho-Corasick automaton (pyahocorasick) over all terms of all policies:
one pass over each message whatever the number of terms (50 policies x 100 terms is one
automaton), where a regex alternation of thousands of terms backtracks per term.

The sample is deterministic: a message version is drawn when the first 64 bits of its
record_sha256, XOR the first 64 bits of SHA-256(policy name), read as a fraction, fall below
the rate. The record hash is uniform and fixed by the message itself, so a re-run draws the
same versions and nobody can pick which messages escape review; the policy's own salt makes
two policies draw different messages. No hashing per message and policy: the sample costs an
integer comparison.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import pyarrow as pa

from pipelines.governance.yaml_file import read_yaml
from schemas.flags import ARROW_SCHEMA as FLAGS_SCHEMA
from schemas.flags import flag_record_sha256

EXCERPT_CHARS = 60
# The contents columns a flag is made from (`flag_contents`).
FLAGGED_COLUMNS = [
    "id",
    "record_sha256",
    "source_id",
    "thread_id",
    "creation_time",
    "direction",
    "source_type",
    "body",
    "body_text",
    "title",
    "archived_at",
    "run_id",
]
APPLIES_TO = ("agent", "all")


class PolicyError(ValueError):
    """policies.yaml is unreadable or says something that cannot be applied; names the place."""


@dataclass(frozen=True)
class Policy:
    name: str
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    applies_to: str = "all"
    channels: frozenset[str] | None = None
    sample_rate: float = 0.0
    compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)
    # A sample seeded by a cosigned checkpoint (pipelines/governance/checkpoint_sample.py), not
    # by the policy's name: drawn when SHA-256(seed || record hash bytes), first 64 bits, falls
    # below the rate. `seed_label` names the checkpoint in each flag's `matched`.
    seed: bytes | None = None
    seed_label: str | None = None

    def applies(self, outbound: bool, channel: str | None) -> bool:
        if self.applies_to == "agent" and not outbound:
            return False
        return self.channels is None or channel in self.channels

    @property
    def salt(self) -> int:
        return int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "big")

    @property
    def sample_threshold(self) -> int:
        """Drawn when (the version's 64 hash bits XOR salt) is below this."""
        return int(self.sample_rate * 2**64)

    def sampled(self, content_sha256: str) -> bool:
        if self.seed is not None:
            return seeded_draw(self.seed, content_sha256) < self.sample_threshold
        return (int(content_sha256[:16], 16) ^ self.salt) < self.sample_threshold


def seeded_draw(seed: bytes, content_sha256: str) -> int:
    """The first 64 bits of SHA-256(seed || the version's record hash as 32 bytes): uniform,
    fixed once the seed is, and recomputable by anyone with the seed and the hash."""
    digest = hashlib.sha256(seed + bytes.fromhex(content_sha256)).digest()
    return int.from_bytes(digest[:8], "big")


def load_policies(path: str | Path) -> PolicySet:
    """The policies of a YAML file; PolicyError naming the file and policy on any mistake."""
    document = read_yaml(path, PolicyError)
    return PolicySet(parse_policies(document, str(path)))


def parse_policies(document: Any, where: str = "policies") -> tuple[Policy, ...]:
    if not isinstance(document, dict) or not isinstance(document.get("policies"), list):
        raise PolicyError(f"{where}: expected a mapping with a `policies:` list")
    policies: list[Policy] = []
    for position, entry in enumerate(document["policies"]):
        policies.append(_policy(entry, f"{where}: policies[{position}]"))
    names = [p.name for p in policies]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PolicyError(f"{where}: policy names must be unique; repeated: {', '.join(twice)}")
    return tuple(policies)


def _policy(entry: Any, where: str) -> Policy:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where}: expected a mapping")
    unknown = set(entry) - {"name", "terms", "patterns", "applies_to", "channels", "sample_rate"}
    if unknown:
        raise PolicyError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{where}: `name` must be a non-empty string")
    where = f"{where} ({name})"
    terms = _strings(entry.get("terms", []), f"{where}.terms")
    patterns = _strings(entry.get("patterns", []), f"{where}.patterns")
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise PolicyError(
                f"{where}.patterns: {pattern!r} is not a regular expression ({exc})"
            ) from None
    applies_to = entry.get("applies_to", "all")
    if applies_to not in APPLIES_TO:
        raise PolicyError(f"{where}.applies_to: expected agent or all, got {applies_to!r}")
    channels = entry.get("channels")
    if channels is not None:
        channels = frozenset(_strings(channels, f"{where}.channels"))
    rate = entry.get("sample_rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise PolicyError(f"{where}.sample_rate: expected a number from 0 to 1, got {rate!r}")
    if not terms and not patterns and not rate:
        raise PolicyError(f"{where}: no terms, patterns or sample_rate: it could never flag")
    return Policy(
        name=name,
        terms=tuple(terms),
        patterns=tuple(patterns),
        applies_to=applies_to,
        channels=channels,
        sample_rate=float(rate),
        compiled=tuple(compiled),
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError(f"{where}: expected a list of non-empty strings")
    return list(value)


def _spaced_word_char(char: str) -> bool:
    """A letter or digit of a script that separates words with spaces."""
    if not char.isalnum():
        return False
    return unicodedata.east_asian_width(char) not in ("W", "F") and not _unspaced(char)


def _unspaced(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"))


@dataclass(frozen=True)
class Hit:
    policy: str
    kind: str  # term | pattern | sample
    matched: str | None
    start: int = 0
    end: int = 0


class PolicySet:
    """The policies of one file, compiled once: `hits(text, ...)` per message."""

    def __init__(self, policies: tuple[Policy, ...]) -> None:
        self.policies = policies
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[int, str]]] = {}
        for index, policy in enumerate(policies):
            for term in policy.terms:
                entries.setdefault(term.casefold(), []).append((index, term))
        for folded, owners in entries.items():
            bounded = (_spaced_word_char(folded[0]), _spaced_word_char(folded[-1]))
            self._automaton.add_word(folded, (len(folded), bounded, tuple(owners)))
        self._has_terms = bool(entries)
        if self._has_terms:
            self._automaton.make_automaton()
        self._patterns = [
            (index, pattern, compiled)
            for index, policy in enumerate(policies)
            for pattern, compiled in zip(policy.patterns, policy.compiled, strict=True)
        ]
        self._samplers = [
            (index, policy.name, policy.salt, policy.sample_threshold)
            for index, policy in enumerate(policies)
            if policy.sample_rate > 0 and policy.seed is None
        ]
        self._seeded = [
            (index, policy) for index, policy in enumerate(policies) if policy.seed is not None
        ]
        self._applicable: dict[tuple[bool, str | None], list[bool]] = {}

    def __len__(self) -> int:
        return len(self.policies)

    def hits(
        self, text: str | None, *, outbound: bool, channel: str | None, content_sha256: str
    ) -> list[Hit]:
        """Every (policy, term or pattern) that flags this message version, first match each;
        plus a sample hit when the policy's rate draws it (agent messages only)."""
        applicable = self._applicable.get((outbound, channel))
        if applicable is None:
            applicable = [p.applies(outbound, channel) for p in self.policies]
            self._applicable[(outbound, channel)] = applicable
        if not any(applicable):
            return []
        found: dict[tuple[int, str, str], Hit] = {}
        if text and self._has_terms:
            # Folding can change lengths (ß -> ss); positions are taken in the folded text,
            # and the excerpt is cut from it only when the lengths agree.
            folded = text.casefold()
            for end, (length, (left, right), owners) in self._automaton.iter(folded):
                start = end - length + 1
                if left and start > 0 and _spaced_word_char(folded[start - 1]):
                    continue
                if right and end + 1 < len(folded) and _spaced_word_char(folded[end + 1]):
                    continue
                for index, term in owners:
                    key = (index, "term", term)
                    if applicable[index] and key not in found:
                        found[key] = Hit(self.policies[index].name, "term", term, start, end + 1)
        if text:
            for index, pattern, compiled in self._patterns:
                if applicable[index]:
                    match = compiled.search(text)
                    if match:
                        found[(index, "pattern", pattern)] = Hit(
                            self.policies[index].name, "pattern", pattern, *match.span()
                        )
        if outbound and self._samplers:
            bits = int(content_sha256[:16], 16)
            for index, name, salt, threshold in self._samplers:
                if applicable[index] and (bits ^ salt) < threshold:
                    found[(index, "sample", "")] = Hit(name, "sample", None)
        if outbound:
            for index, policy in self._seeded:
                if applicable[index] and policy.sampled(content_sha256):
                    found[(index, "sample", "")] = Hit(policy.name, "sample", policy.seed_label)
        if len(found) < 2:
            return list(found.values())
        return sorted(found.values(), key=lambda h: (h.policy, h.kind, h.matched or ""))


def flag_contents(policies: PolicySet | None, contents: pa.Table) -> pa.Table:
    """The flags of a batch of new message versions (rows of the contents table, stamped), in
    the flags table's schema (the ledger stamps the batch id).

    Reads only this batch: supervision costs the same in the thousandth run as in the first.
    """
    if policies is None or len(policies) == 0 or contents.num_rows == 0:
        return FLAGS_SCHEMA.empty_table()
    columns = contents.select(FLAGGED_COLUMNS).to_pydict()
    rows: dict[str, list[Any]] = {name: [] for name in FLAGS_SCHEMA.names}
    for i in range(contents.num_rows):
        text = _message_text(columns["title"][i], columns["body"][i], columns["body_text"][i])
        content_sha256 = columns["record_sha256"][i]
        for hit in policies.hits(
            text,
            outbound=columns["direction"][i] == "outbound",
            channel=columns["source_type"][i],
            content_sha256=content_sha256,
        ):
            excerpt = None
            if hit.kind != "sample" and text:
                excerpt = _excerpt(text, hit)
            values = {
                "content_id": columns["id"][i],
                "content_sha256": content_sha256,
                "source_id": columns["source_id"][i],
                "thread_id": columns["thread_id"][i],
                "creation_time": columns["creation_time"][i],
                "policy": hit.policy,
                "kind": hit.kind,
                "matched": hit.matched,
                "excerpt": excerpt,
                "record_sha256": flag_record_sha256(
                    content_sha256, hit.policy, hit.kind, hit.matched
                ),
                "archived_at": columns["archived_at"][i],  # the version's stamps
                "run_id": columns["run_id"][i],
                "batch_id": "",  # the ledger stamps the batch
            }
            for name, value in values.items():
                rows[name].append(value)
    return pa.Table.from_pydict(rows, schema=FLAGS_SCHEMA)


def _message_text(title: str | None, body: str | None, body_text: str | None) -> str:
    """What a policy reads: the title and the body, plus the plain-text body when it differs
    (usually it is the body again)."""
    parts = [title, body] + ([body_text] if body_text != body else [])
    return "\n".join(part for part in parts if part)


def _excerpt(text: str, hit: Hit) -> str:
    """The match with EXCERPT_CHARS of context each side (term offsets are those of the folded
    text, equal to the original's unless folding changed a length, e.g. ß -> ss)."""
    start = max(0, hit.start - EXCERPT_CHARS)
    return text[start : min(len(text), hit.end + EXCERPT_CHARS)]
