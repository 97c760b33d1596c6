"""Supervision throughput: messages/s through P policies of T lexicon terms each.

The policies run on every batch a run commits (pipelines/governance/policies.py), so they must
not be the bottleneck of a run (the archive takes >= 50,000 records/s). Terms mix Latin,
Cyrillic, Arabic, Hebrew and CJK words; messages are realistic lengths with a hit in about 1%
of them; 5% of agent messages are sampled for review. Measured over contents rows as the run
hands them over (an Arrow batch), flags table included.

    .venv/bin/python benchmarks/policies.py --policies 50 --terms 100 --messages 100000
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from datetime import UTC, datetime

import pyarrow as pa

from benchmarks.harness import add_attachments_argument, require_no_attachments
from pipelines.governance.policies import PolicySet, flag_contents, parse_policies
from schemas.contents import ARROW_SCHEMA

WORDS = [
    "account",
    "transfer",
    "market",
    "price",
    "order",
    "client",
    "fund",
    "yield",
    "offer",
    "bond",
    "rate",
    "trade",
    "report",
    "счет",
    "перевод",
    "рынок",
    "цена",
    "заказ",
    "клиент",
    "фонд",
    "доход",
    "حساب",
    "تحويل",
    "سوق",
    "سعر",
    "طلب",
    "عميل",
    "חשבון",
    "העברה",
    "שוק",
    "מחיר",
    "הזמנה",
    "לקוח",
    "账户",
    "转账",
    "市场",
    "价格",
    "订单",
    "客户",
    "基金",
]


def _policies(count: int, terms: int, rng: random.Random) -> PolicySet:
    entries = []
    for p in range(count):
        lexicon = [f"{rng.choice(WORDS)}{p}x{t} {rng.choice(WORDS)}" for t in range(terms)]
        entries.append({"name": f"policy-{p}", "terms": lexicon, "sample_rate": 0.05 / count})
    return PolicySet(parse_policies({"policies": entries}))


def _contents(n: int, policies: PolicySet, rng: random.Random) -> pa.Table:
    every_term = [t for p in policies.policies for t in p.terms]
    bodies = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 40))]
        if i % 100 == 0:
            words.insert(len(words) // 2, rng.choice(every_term))
        bodies.append(" ".join(words))
    now = datetime.now(UTC)
    columns = {
        "id": [f"c{i}" for i in range(n)],
        "record_sha256": [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)],
        "source_id": ["0" * 24] * n,
        "thread_id": [f"t{i // 10}" for i in range(n)],
        "creation_time": [now] * n,
        "creation_date": [now.date()] * n,
        "direction": ["outbound" if i % 2 else "inbound" for i in range(n)],
        "source_type": ["WhatsApp"] * n,
        "body": bodies,
        "raw_json": ["{}"] * n,
        "archived_at": [now] * n,
        "run_id": ["bench"] * n,
        "batch_id": [""] * n,
    }
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in ARROW_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--terms", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per committed batch")
    add_attachments_argument(parser, default="none")
    args = parser.parse_args()
    require_no_attachments(parser, args.attachments)
    rng = random.Random(7)
    started = time.perf_counter()
    policies = _policies(args.policies, args.terms, rng)
    compile_s = time.perf_counter() - started
    contents = _contents(args.messages, policies, rng)
    started = time.perf_counter()
    flags = 0
    for offset in range(0, contents.num_rows, args.batch):
        flags += flag_contents(policies, contents.slice(offset, args.batch)).num_rows
    elapsed = time.perf_counter() - started
    print("attachments: none (generated contents rows)")
    print(f"policies: {args.policies} x {args.terms} terms, compiled in {compile_s * 1000:.0f} ms")
    print(f"messages: {args.messages:,}  flags: {flags:,}  seconds: {elapsed:.2f}")
    print(f"policies: {args.messages / elapsed:,.0f} messages/s")


if __name__ == "__main__":
    main()
