"""Web console benchmark: the console over an existing archive and its audit catalog, signed in
over real HTTP, timing the pages people wait on: a search, a thread, the review queue.

    .venv/bin/python benchmarks/console_bench.py --archive /data/bench-1m/archive \
        --audit-db /data/bench-1m/audit.duckdb --requests 100
    .venv/bin/python benchmarks/console_bench.py --archive /tmp/console-bench/archive \
        --contents 1000000     # builds the archive (as audit_bench.py does) and its catalog

The console runs in this process on 127.0.0.1 (uvicorn in a thread, as `rc-archive console`
serves it) with a users file of its own (an auditor and a reviewer) in a temporary directory.
Each timed request is a full round trip through the real stack: session check, the library's
query, the access event written to the archive's trail (so a run adds 3 x N events to it), the
rendered page. The first search builds the search index when the catalog has none: it is
timed separately (`warm-up`), as are the first thread and queue pages. The thread timed is the
thread of the search's best hit (or --thread SOURCE/THREAD). Requests are sequential: p50/p95
are one person's waits, not a load test.

The last line is `console: search p95 X ms, thread p95 Y ms, queue p95 Z ms`.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import percentile, render_table, write_results
from console.app import ConsoleServer, create_app
from console.users import UsersFile
from pipelines.catalog.build import build_catalog
from pipelines.settings import ConsoleSettings, Settings

HIT = re.compile(r'<a class="hit-thread" href="(/thread/[^"]+)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def signed_in(url: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=600, follow_redirects=False)
    form = client.get("/login")
    token = CSRF.search(form.text)
    if token is None:
        raise SystemExit("console_bench: the login page has no form")
    answer = client.post(
        "/login", data={"username": name, "password": password, "csrf": token.group(1)}
    )
    if answer.status_code != 303:
        raise SystemExit(f"console_bench: sign-in as {name} failed ({answer.status_code})")
    return client


def timed_get(client: httpx.Client, path: str, params: dict | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    answer = client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(
            f"console_bench: GET {path} answered {answer.status_code}: {answer.text[-300:]}"
        )
    return elapsed, answer.text


def measure(client: httpx.Client, path: str, params: dict | None, n: int) -> list[float]:
    return [timed_get(client, path, params)[0] for _ in range(n)]


# The review queue needs flags: an archive built here gets a policy's flags the way a firm adds
# one (`review rescan`): every "refund" an agent wrote, and a 2 % sample of agent messages.
BENCH_POLICIES = {
    "policies": [
        {"name": "bench-refunds", "terms": ["refund"], "applies_to": "agent"},
        {"name": "bench-sample", "sample_rate": 0.02, "applies_to": "agent"},
    ]
}


def ensure_catalog(archive: Path, audit_db: Path, contents: int, sources: int, days: int) -> None:
    """The archive (built as audit_bench.py builds it when missing), its flags, its catalog."""
    if not (archive / "_ledger").exists():
        from benchmarks.audit_bench import build_archive

        started = time.perf_counter()
        build_archive(archive, contents, sources, days)
        print(f"archive written: {contents:,} contents in {time.perf_counter() - started:.1f} s")
    if ensure_flags(archive):
        audit_db.unlink(missing_ok=True)  # its views predate the flags
    if not audit_db.exists():
        started = time.perf_counter()
        build_catalog(archive, audit_db, Settings())
        print(f"catalog built: {audit_db} in {time.perf_counter() - started:.1f} s")


def ensure_flags(archive: Path) -> bool:
    """Flag the archive with BENCH_POLICIES unless it holds flags; whether it flagged."""
    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import LocalStore
    from pipelines.governance.policies import PolicySet, parse_policies
    from pipelines.governance.rescan import rescan

    ledger = Ledger(LocalStore(archive))
    if ledger.committed_files("flags"):
        return False
    started = time.perf_counter()
    results = rescan(ledger, PolicySet(parse_policies(BENCH_POLICIES)), "console-bench")
    flags = sum(r.flags_committed for r in results)
    print(f"flags committed: {flags:,} in {time.perf_counter() - started:.1f} s")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True, help="the archive (local dir)")
    parser.add_argument(
        "--audit-db", type=Path, help="its catalog (default: audit.duckdb beside the archive)"
    )
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--terms", default="refund delivery", help="the search's words")
    parser.add_argument("--thread", help="SOURCE/THREAD to time (default: the best hit's)")
    parser.add_argument("--contents", type=int, default=1_000_000, help="when building one")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    audit_db = args.audit_db or args.archive.parent / "audit.duckdb"
    ensure_catalog(args.archive, audit_db, args.contents, args.sources, args.days)

    work = Path(tempfile.mkdtemp(prefix="console-bench-"))
    password = secrets.token_urlsafe(18)
    users = UsersFile(work / "console-users.json")
    users.add("bench-auditor", "auditor", password)
    users.add("bench-reviewer", "reviewer", password)
    settings = Settings(
        archive_uri=str(args.archive),
        audit_db=str(audit_db),
        console=ConsoleSettings(exports_dir=str(work / "exports")),
    )
    print(f"console bench: {args.archive} ({audit_db}), {args.requests} requests per page")
    with ConsoleServer(create_app(settings, users.path)) as server:
        auditor = signed_in(server.url, "bench-auditor", password)
        reviewer = signed_in(server.url, "bench-reviewer", password)
        search = {"q": args.terms}
        first_search, page = timed_get(auditor, "/search", search)
        if args.thread:
            thread_path = f"/thread/{args.thread}"
        else:
            hit = HIT.search(page)
            if hit is None:
                raise SystemExit(f"console_bench: no hit for {args.terms!r}; give --terms")
            thread_path = hit.group(1)
        first_thread, _ = timed_get(auditor, thread_path)
        first_queue, _ = timed_get(reviewer, "/review")
        print(
            f"warm-up: search {first_search:.0f} ms (builds the index when missing), "
            f"thread {first_thread:.0f} ms, queue {first_queue:.0f} ms"
        )
        times = {
            "search": measure(auditor, "/search", search, args.requests),
            "thread": measure(auditor, thread_path, None, args.requests),
            "queue": measure(reviewer, "/review", None, args.requests),
        }
        auditor.close()
        reviewer.close()
    rows = [
        [name, len(values), percentile(values, 0.5), percentile(values, 0.95), max(values)]
        for name, values in times.items()
    ]
    print(render_table(["page", "requests", "p50 ms", "p95 ms", "max ms"], rows))
    p95 = {name: percentile(values, 0.95) for name, values in times.items()}
    path = write_results(
        "console",
        {
            "archive": str(args.archive),
            "audit_db": str(audit_db),
            "requests": args.requests,
            "terms": args.terms,
            "thread": thread_path,
            "warm_up_ms": {"search": first_search, "thread": first_thread, "queue": first_queue},
            "ms": times,
        },
    )
    print(f"results: {path}", file=sys.stderr)
    print(
        f"console: search p95 {p95['search']:.0f} ms, thread p95 {p95['thread']:.0f} ms, "
        f"queue p95 {p95['queue']:.0f} ms"
    )


if __name__ == "__main__":
    main()
