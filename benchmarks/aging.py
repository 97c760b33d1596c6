"""Aging: a run, a catalog refresh and an audit query cost what the new work and the archive's
size cost, never what the number of runs that built the archive costs.

Simulates D days of 15-minute runs over S sources (default 90 days x 10 sources, ~300 new
contents per source per day, plus edits and remote deletions as new versions of existing ids and
the crawl's overlap re-read every run). It drives the archive layer directly, as
pipelines/sync/contents.py does, without an API or Dagster: records are made here (realistic
ids, threads, customers, agents, creation times on the simulated day), `ArchivedVersions.
take_unseen` drops the versions already archived, `schemas.contents.normalise_contents`
normalises the rest, and `Ledger.commit_batch(prefiltered=True)` commits one batch per run and
source (nothing when a run found nothing new, like an idle run). The hourly compaction
schedule's `compact_source(now=<the simulated hour>)` runs on the hour, so each closed hour,
day and month becomes one file per source.

Day 1 and day D are measured. On those days every run of the first (up to) two sources is done
in a separate worker process exactly as a scheduled run does it in its own process: a new
`Ledger` over a store that counts GETs and LISTs, `ArchivedVersions.load`, `take_unseen`,
normalise, commit, then the per-run check `verify_recent`; the other sources take the fast path
(one long-lived ledger and version index per source, same commits). After the day's last runs
the audit catalog is refreshed incrementally (`build_catalog` on the previous audit.duckdb) and
the audit questions are timed on fresh connections: a thread's transcript
(`thread_transcript`), one agent's month (`agent_messages` of the query pack) and a term search
(`term_search`). At day D a second archive holds the same rows committed in one batch per
source and month and compacted; the size-dependent figures are compared with it.

What is compared with what:
  * new-work steps (commit, run wall, peak RSS, objects read per run, verify_recent, thread
    transcript, version index load: its persisted part is ~100 bytes a version, the rest is the
    checkpoint's tail, at most CHECKPOINT_EVERY manifests): day D against day 1 (target
    <= 1.5x); the last line reports their maximum;
  * size-dependent steps (catalog refresh, catalog open, agent month, term search, files the
    views read): day D against the fresh, compacted archive of the same rows (target <= 1.5x),
    reported on the line before; day D / day 1 is printed too, for the record.
Medians: of every measured run of the day (run steps), of --reps fresh connections (queries),
of up to 3 refreshes, each after one round of runs (catalog).

    PYTHONPATH=. .venv/bin/python benchmarks/aging.py --quick          # 14 days x 3 sources
    PYTHONPATH=. .venv/bin/python benchmarks/aging.py                  # 90 days x 10 sources
"""

from __future__ import annotations

import argparse
import copy
import math
import multiprocessing
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import pyarrow as pa

from benchmarks.harness import add_attachments_argument, render_table, require_no_attachments
from pipelines.archive.compaction import compact_source
from pipelines.archive.counting import CountingStore
from pipelines.archive.ledger import Ledger
from pipelines.archive.parquet import SCHEMAS, parquet_to_table
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify_recent
from pipelines.archive.versions import ArchivedVersions
from pipelines.process_memory import tune_garbage_collection, tune_process_memory
from pipelines.settings import Settings
from schemas.contents import normalise_contents
from schemas.ids import source_stream

TABLE = "contents"
RUN_MINUTES = 15
TERM = "chargeback"  # in ~0.5% of bodies: the term search's needle
WORDS = ["great", "thanks", "order", "refund", "delivery", "please", "hello", "when", "where",
         "package", "tracking", "invoice", "address", "tomorrow", "👍", "merci"]  # fmt: skip
CHANNELS = ["WhatsApp", "FacebookMessenger", "InstagramMessaging", "Twitter", "GoogleBusiness"]
EDIT_SHARE = 0.05  # of new contents per day, edited later (a new version of the same id)
DELETE_SHARE = 0.01  # remotely deleted later (another new version)
OVERLAP = 10  # already archived records the crawl's overlapping page re-reads each run
MEASURED_SOURCES = 2  # sources whose runs on the measured days go through the worker


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _hex24(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


class SourceTraffic:
    """One source's conversations: new messages in threads, edits and deletions of recent ones."""

    def __init__(self, index: int, per_day: int, runs_per_day: int, seed: int) -> None:
        self.rng = random.Random(seed * 1000 + index)
        self.source_id = f"65c3fdd9527bf9{index:010x}"
        self.channel = CHANNELS[index % len(CHANNELS)]
        self.per_run = per_day / runs_per_day
        self.agents = [str(63317565000 + (index * 7 + k) % 40) for k in range(12)]
        self.customers = [(_hex24(self.rng), _hex24(self.rng)) for _ in range(max(50, per_day))]
        self.recent: deque[dict] = deque()  # newest version of recent contents, oldest first
        self.threads: deque[dict] = deque()  # open threads: id, customer, last message, start
        self.emitted: deque[dict] = deque(maxlen=OVERLAP)
        self.threads_by_day: dict[str, list[dict]] = {}

    def _count(self, mean: float) -> int:
        if mean <= 0:
            return 0
        return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))

    def _message(self, moment: datetime) -> dict:
        rng = self.rng
        while self.threads and self.threads[0]["last"] < moment - timedelta(days=2):
            self.threads.popleft()
        if not self.threads or rng.random() < 0.3:
            customer, group = rng.choice(self.customers)
            thread = {"id": _hex24(rng), "customer": customer, "group": group, "last": moment,
                      "last_id": None, "last_inbound": False, "messages": 0}  # fmt: skip
            self.threads.append(thread)
            self.threads_by_day.setdefault(moment.date().isoformat(), []).append(thread)
        else:
            thread = self.threads[rng.randrange(len(self.threads))]
        inbound = not thread["last_inbound"] or rng.random() < 0.25
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 30))]
        if rng.random() < 0.005:
            words.insert(rng.randrange(len(words)), TERM)
        body = " ".join(words)
        content_id = _hex24(rng)
        agent = None if inbound else rng.choice(self.agents)
        created = _iso(moment)
        record = {
            "id": content_id,
            "creationTime": created,
            "lastModifiedTime": created,
            "authorIdentityId": thread["customer"] if inbound else f"{int(agent):024x}",
            "body": body,
            "bodyInputFormat": "Text",
            "categoryIds": [],
            "creatorId": agent,
            "interventionId": None,
            "language": "En",
            "remotelyDeleted": False,
            "sourceId": self.source_id,
            "sourceUri": None,
            "synchronizationStatus": "Success",
            "status": "New" if inbound else "UserReply",
            "threadId": thread["id"],
            "inReplyToContentId": None if inbound else thread["last_id"],
            "inReplyToAuthorIdentityId": None,
            "attachments": [],
            "autoSubmitted": False,
            "identityGroupId": thread["group"] if inbound else None,
            "bodyFormatted": {"Text": body, "Html": f"<p>{body}</p>"},
            "contextData": None,
            "createdFrom": "Synchronizer" if inbound else "Api",
            "public": False,
            "published": True,
            "sourceType": self.channel,
            "type": "Message",
            "synchronizationError": None,
            "capabilitiesSupported": ["template", "list"],
        }
        thread.update(last=moment, last_id=content_id, last_inbound=inbound)
        thread["messages"] += 1
        return record

    def _changed(self, now: datetime, delete: bool) -> dict | None:
        """A new version of a recent content: 85% from the last day, 15% from the last week."""
        if not self.recent:
            return None
        horizon = now - timedelta(days=1 if self.rng.random() < 0.85 else 7)
        candidates = [i for i in range(len(self.recent)) if self.recent[i]["_at"] >= horizon]
        if not candidates:
            return None
        index = self.rng.choice(candidates[-2000:])
        record = copy.deepcopy(self.recent[index])
        record["lastModifiedTime"] = _iso(now - timedelta(seconds=self.rng.randrange(1, 800)))
        if delete:
            record["remotelyDeleted"] = True
            record["status"] = "Ignored"
        else:
            record["body"] = record["body"] + " (edited) " + self.rng.choice(WORDS)
            record["bodyFormatted"] = {"Text": record["body"], "Html": f"<p>{record['body']}</p>"}
        self.recent[index] = record
        return record

    def run_records(self, end: datetime) -> tuple[list[dict], str | None]:
        """What the run ending at `end` reads: the window's new contents, new versions of
        recent ones, and the crawl's overlap. Returns (records, newest creationTime)."""
        start = end - timedelta(minutes=RUN_MINUTES)
        moments = sorted(
            start + timedelta(milliseconds=self.rng.randrange(RUN_MINUTES * 60_000))
            for _ in range(self._count(self.per_run))
        )
        new = [self._message(moment) for moment in moments]
        changed = [
            self._changed(end, delete)
            for delete, share in ((False, EDIT_SHARE), (True, DELETE_SHARE))
            for _ in range(self._count(self.per_run * share))
        ]
        changed = [c for c in changed if c is not None]
        records = [*self.emitted, *new, *changed]
        for record in new:
            self.recent.append({**record, "_at": datetime.fromisoformat(record["creationTime"])})
        while self.recent and self.recent[0]["_at"] < end - timedelta(days=7):
            self.recent.popleft()
        self.emitted.extend(new)
        clean = [{k: v for k, v in r.items() if k != "_at"} for r in records]
        newest = max((r["creationTime"] for r in new), default=None)
        return clean, newest


# -- the measuring worker: one process that runs as a scheduled run does ------------------------


class PeakRss:
    """Samples this process's RSS every 5 ms while active."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self.peak = self.process.memory_info().rss
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _worker(conn) -> None:
    tune_process_memory()
    tune_garbage_collection()
    rss = PeakRss()
    while True:
        message = conn.recv()
        kind = message[0]
        if kind == "stop":
            conn.send({"maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})
            return
        root = message[1]
        if kind == "run":
            _, _, source_id, records, cursor, run_id, archived_at = message
            conn.send(_measured_run(root, source_id, records, cursor, run_id, archived_at, rss))
        elif kind == "load":
            store = CountingStore(LocalStore(root))
            started = time.perf_counter()
            ArchivedVersions.load(Ledger(store), TABLE, message[2])
            conn.send({"load_s": time.perf_counter() - started, "objects": len(store.gets)})
        elif kind == "verify":
            started = time.perf_counter()
            report = verify_recent(LocalStore(root), message[2])
            conn.send({"verify_s": time.perf_counter() - started, "ok": report.ok})


def _measured_run(root, source_id, records, cursor, run_id, archived_at, rss) -> dict:
    stream = source_stream(source_id)
    store = CountingStore(LocalStore(root))
    with rss:
        started = time.perf_counter()
        ledger = Ledger(store)
        archived = ArchivedVersions.load(ledger, TABLE, stream)
        loaded = time.perf_counter()
        unseen = archived.take_unseen(records)
        commit_s = 0.0
        if unseen.records:
            batch = normalise_contents(
                unseen.records,
                source_id=source_id,
                run_id=run_id,
                batch_id="",
                archived_at=archived_at,
            )
            before_commit = time.perf_counter()
            previous = ledger.head(TABLE, stream)
            full_cursor = dict(previous.cursor) if previous else {}
            full_cursor.update(cursor)
            ledger.commit_batch(
                TABLE,
                stream,
                {"contents": batch.table, "quarantine": batch.quarantine},
                full_cursor,
                run_id,
                prefiltered=True,
            )
            commit_s = time.perf_counter() - before_commit
        wall = time.perf_counter() - started
    objects = len(store.gets) + store.lists
    load_s = loaded - started
    started = time.perf_counter()
    report = verify_recent(LocalStore(root), stream)
    verify_s = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(report.summary())
    return {"load_s": load_s, "commit_s": commit_s, "wall_s": wall,
            "objects": objects, "rss": rss.peak, "verify_s": verify_s,
            "committed": bool(unseen.records)}  # fmt: skip


class Worker:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()

    def ask(self, *message):
        self.conn.send(message)
        return self.conn.recv()

    def stop(self) -> int:
        maxrss = self.ask("stop")["maxrss"]
        self.process.join()
        return maxrss


# -- the simulation ------------------------------------------------------------------------------


class Simulation:
    def __init__(self, root: Path, sources: int, per_day: int, runs_per_day: int, seed: int):
        self.root = root
        self.store = LocalStore(root / "archive")
        self.runs_per_day = runs_per_day
        self.traffic = [SourceTraffic(i, per_day, runs_per_day, seed) for i in range(sources)]
        self.versions: dict[str, ArchivedVersions] = {}
        self.ledgers: dict[str, Ledger] = {}
        self.commits = 0

    def new_day(self, day: datetime) -> None:
        """The first compaction of the day (closed days and months; the runs compact each
        closed hour as the hourly schedule does); the long-lived ledgers are renewed so their
        manifest caches do not grow with the simulation."""
        self.ledgers = {t.source_id: Ledger(self.store) for t in self.traffic}
        for t in self.traffic:
            compact_source(self.ledgers[t.source_id], t.source_id, f"compact-{day:%Y%m%d}", now=day)

    def versions_of(self, source_id: str) -> ArchivedVersions:
        if source_id not in self.versions:
            self.versions[source_id] = ArchivedVersions.load(
                Ledger(self.store), TABLE, source_stream(source_id)
            )
        return self.versions[source_id]

    def run(self, traffic: SourceTraffic, end: datetime, worker: Worker | None) -> dict | None:
        records, newest = traffic.run_records(end)
        cursor = {"high_water_time": newest} if newest else {}
        run_id = f"run-{end:%Y%m%dT%H%M}"
        unseen = self.versions_of(traffic.source_id).take_unseen(records)
        if worker is not None:
            result = worker.ask("run", str(self.store.root), traffic.source_id, records, cursor,
                                run_id, end)  # fmt: skip
            self.commits += result["committed"]
            return result
        if not unseen.records:
            return None
        ledger = self.ledgers[traffic.source_id]
        stream = source_stream(traffic.source_id)
        batch = normalise_contents(
            unseen.records, source_id=traffic.source_id, run_id=run_id, batch_id="",
            archived_at=end,
        )  # fmt: skip
        head = ledger.head(TABLE, stream)
        full_cursor = (dict(head.cursor) if head else {}) | cursor
        tables = {"contents": batch.table, "quarantine": batch.quarantine}
        ledger.commit_batch(TABLE, stream, tables, full_cursor, run_id, prefiltered=True)
        self.commits += 1
        return None

    def run_day(self, traffic: SourceTraffic, day: datetime) -> None:
        """A whole unmeasured day of one source's runs: the same take_unseen and one commit per
        run as `run`, but pandera validates the day's rows in one call (the simulation's
        time goes to the commits, not to a fixed per-call validation overhead), then each run's
        rows are committed with its own run_id and archived_at."""
        versions = self.versions_of(traffic.source_id)
        runs = []
        for r in range(self.runs_per_day):
            end = day + timedelta(minutes=RUN_MINUTES * (r + 1))
            records, newest = traffic.run_records(end)
            unseen = versions.take_unseen(records)
            runs.append((end, newest, unseen.records))
        everything = [record for _, _, records in runs for record in records]
        if not everything:
            return
        batch = normalise_contents(everything, source_id=traffic.source_id, run_id="",
                                   batch_id="", archived_at=day)  # fmt: skip
        if batch.quarantine.num_rows or batch.table.num_rows != len(everything):
            raise RuntimeError("generated records were quarantined; the simulation is wrong")
        ledger = self.ledgers[traffic.source_id]
        stream = source_stream(traffic.source_id)
        offset = 0
        for end, newest, records in runs:
            if not records:
                continue
            run_id = f"run-{end:%Y%m%dT%H%M}"
            rows = _stamped(batch.table.slice(offset, len(records)), run_id, end)
            offset += len(records)
            head = ledger.head(TABLE, stream)
            cursor = (dict(head.cursor) if head else {}) | (
                {"high_water_time": newest} if newest else {}
            )
            ledger.commit_batch(TABLE, stream, {"contents": rows}, cursor, run_id,
                                prefiltered=True)  # fmt: skip
            self.commits += 1
            if end.minute == 0:  # the hourly compaction schedule
                compact_source(ledger, traffic.source_id, f"compact-{end:%Y%m%dT%H}", now=end)


def _stamped(table: pa.Table, run_id: str, archived_at: datetime) -> pa.Table:
    """A slice of a day's normalised rows with the stamps its own run would have given it."""
    for name, value, kind in (
        ("run_id", run_id, pa.string()),
        ("archived_at", archived_at, table.schema.field("archived_at").type),
    ):
        index = table.schema.get_field_index(name)
        column = pa.array([value] * table.num_rows, kind)
        table = table.set_column(index, table.schema.field(index), column)
    return table


def _median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def _timed(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return _median(times)


def audit_figures(audit_db: Path, archive: Path, thread_id: str, agent_id: str, month: date,
                  reps: int) -> dict:  # fmt: skip
    """Median times of the audit questions, each on a fresh connection (first query of a
    session, as `rc-archive` runs them)."""
    from pipelines.catalog.connection import connect
    from pipelines.query.queries import QUERY_PACK, run_query
    from pipelines.query.transcript import thread_transcript

    env = {"ARCHIVE_URI": str(archive)}
    month_start = datetime(month.year, month.month, 1, tzinfo=UTC)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    questions = {
        "thread": lambda c: thread_transcript(c, thread_id),
        "agent_month": lambda c: (
            run_query(
                c,
                QUERY_PACK["agent_messages"],
                {"agent_id": agent_id, "from": month_start, "to": next_month},
            ).rows
        ),  # fmt: skip
        "term_search": lambda c: run_query(c, QUERY_PACK["term_search"], {"term": TERM}).rows,
    }
    figures: dict[str, float] = {}
    rows: dict[str, int] = {}
    opens = []
    for name, question in questions.items():
        times = []
        for _ in range(reps):
            started = time.perf_counter()
            conn = connect(audit_db, Settings.from_env(env))
            opened = time.perf_counter()
            answer = question(conn)
            times.append(time.perf_counter() - opened)
            opens.append(opened - started)
            conn.close()
        figures[name] = _median(times)
        rows[name] = len(answer)
    figures["open"] = _median(opens)
    return {"times": figures, "rows": rows}


def catalog_refresh(store, audit_db: Path) -> tuple[float, object]:
    from pipelines.catalog.build import build_catalog

    started = time.perf_counter()
    report = build_catalog(store, audit_db, Settings())
    return time.perf_counter() - started, report


def pick_thread(traffic: SourceTraffic, day: datetime) -> str:
    threads = traffic.threads_by_day.get(day.date().isoformat(), [])
    busy = [t for t in threads if t["messages"] >= 4] or threads
    return busy[len(busy) // 2]["id"]


def measure_day(
    sim: Simulation, day: datetime, day_index: int, reps: int, refresh_reps: int
) -> dict:
    """Run one simulated day with the first sources' runs measured in a worker process; refresh
    the catalog after the last `reps` rounds; then time the audit questions."""
    measured = {t.source_id for t in sim.traffic[:MEASURED_SOURCES]}
    audit_db = sim.root / "audit.duckdb"
    worker = Worker()
    runs: list[dict] = []
    refreshes: list[tuple[float, object]] = []
    for r in range(sim.runs_per_day):
        end = day + timedelta(minutes=RUN_MINUTES * (r + 1))
        for traffic in sim.traffic:
            use = worker if traffic.source_id in measured else None
            result = sim.run(traffic, end, use)
            if result is not None:
                runs.append(result)
            if end.minute == 0:  # the hourly compaction schedule (not measured)
                source_id = traffic.source_id
                compact_source(sim.ledgers[source_id], source_id, f"c-{end:%Y%m%dT%H}", now=end)
        if r == sim.runs_per_day - refresh_reps - 1:
            catalog_refresh(sim.store, audit_db)  # catch up (not measured)
        elif r >= sim.runs_per_day - refresh_reps:
            refreshes.append(catalog_refresh(sim.store, audit_db))
    maxrss = worker.stop()
    committed = [r for r in runs if r["committed"]]
    last_report = refreshes[-1][1]
    questions = audit_figures(
        audit_db, sim.store.root, pick_thread(sim.traffic[0], day), sim.traffic[0].agents[0],
        day.date(), reps,
    )  # fmt: skip
    return {
        "day": day_index,
        "date": day.date().isoformat(),
        "commit_ms": _median(r["commit_s"] for r in committed) * 1000,
        "run_s": _median(r["wall_s"] for r in runs),
        "load_ms": _median(r["load_s"] for r in runs) * 1000,
        "objects": _median(r["objects"] for r in runs),
        "rss_mb": max(r["rss"] for r in runs) / 2**20,
        "worker_maxrss_mb": maxrss / 2**20,
        "verify_ms": _median(r["verify_s"] for r in runs) * 1000,
        "refresh_s": _median(s for s, _ in refreshes),
        "manifests_read": _median(rep.manifests_read for _, rep in refreshes),
        "manifests": last_report.manifests,
        "files": last_report.files_per_table["contents"],
        "rows": last_report.rows_per_table["contents"],
        "thread_ms": questions["times"]["thread"] * 1000,
        "agent_month_ms": questions["times"]["agent_month"] * 1000,
        "term_ms": questions["times"]["term_search"] * 1000,
        "open_ms": questions["times"]["open"] * 1000,
        "answers": questions["rows"],
        "thread": pick_thread(sim.traffic[0], day),
        "runs_measured": len(runs),
    }


def fresh_copy(sim: Simulation, day: datetime, aged: dict, reps: int, refresh_reps: int) -> dict:
    """The same live rows, committed in one batch per source and month and compacted as the
    daily schedule would at `day`; then the size-dependent figures on it."""
    root = sim.root / "fresh"
    store = LocalStore(root / "archive")
    ledger = Ledger(store)
    aged_ledger = Ledger(sim.store)
    schema = SCHEMAS[TABLE]
    for traffic in sim.traffic:
        stream = source_stream(traffic.source_id)
        by_month: dict[str, list] = {}
        for entry in aged_ledger.committed_files(TABLE, stream):
            by_month.setdefault(entry.min_creation_time[:7], []).append(entry)
        for month in sorted(by_month):
            rows = [parquet_to_table(sim.store.get(e.key)).cast(schema) for e in by_month[month]]
            ledger.commit_batch(
                TABLE, stream, {"contents": pa.concat_tables(rows)}, {}, f"fresh-{month}"
            )
        compact_source(ledger, traffic.source_id, "fresh-compact", now=day)
        ledger.write_checkpoint(TABLE, stream)
    audit_db = root / "audit.duckdb"
    catalog_refresh(store, audit_db)  # first build (full)
    refreshes = [catalog_refresh(store, audit_db) for _ in range(refresh_reps)]
    report = refreshes[-1][1]
    worker = Worker()
    stream = source_stream(sim.traffic[0].source_id)
    loads = [worker.ask("load", str(store.root), stream) for _ in range(reps)]
    verifies = [worker.ask("verify", str(store.root), stream) for _ in range(reps)]
    worker.stop()
    questions = audit_figures(
        audit_db, store.root, aged["thread"], sim.traffic[0].agents[0], day.date(), reps
    )
    if questions["rows"] != aged["answers"]:
        raise RuntimeError(f"fresh answers {questions['rows']} != aged {aged['answers']}")
    result = {
        "load_ms": _median(x["load_s"] for x in loads) * 1000,
        "verify_ms": _median(x["verify_s"] for x in verifies) * 1000,
        "refresh_s": _median(s for s, _ in refreshes),
        "files": report.files_per_table["contents"],
        "rows": report.rows_per_table["contents"],
        "manifests": report.manifests,
        "thread_ms": questions["times"]["thread"] * 1000,
        "agent_month_ms": questions["times"]["agent_month"] * 1000,
        "term_ms": questions["times"]["term_search"] * 1000,
        "open_ms": questions["times"]["open"] * 1000,
    }
    if result["rows"] != aged["rows"]:
        raise RuntimeError(f"fresh rows {result['rows']} != aged {aged['rows']}")
    return result


# (label, key, unit, reference): reference "day1" = a new-work step (day D vs day 1); "fresh" =
# depends on the archive's size (day D vs the same rows loaded fresh and compacted).
STEPS = [
    ("commit (median of runs)", "commit_ms", "ms", "day1"),
    ("run wall: load + take_unseen + commit", "run_s", "s", "day1"),
    ("peak RSS of a run process", "rss_mb", "MB", "day1"),
    ("objects read per run (GET+LIST)", "objects", "", "day1"),
    ("verify_recent", "verify_ms", "ms", "day1"),
    ("thread transcript", "thread_ms", "ms", "day1"),
    ("version index load", "load_ms", "ms", "day1"),
    ("catalog refresh (incremental)", "refresh_s", "s", "fresh"),
    ("catalog open (connect)", "open_ms", "ms", "fresh"),
    ("one agent's month", "agent_month_ms", "ms", "fresh"),
    ("term search", "term_ms", "ms", "fresh"),
    ("files the views read (contents)", "files", "", "fresh"),
]


def report(first: dict, last: dict, fresh: dict) -> tuple[str, float, int, float, int]:
    rows = []
    day1_ratios, fresh_ratios = [], []
    for label, key, unit, reference in STEPS:
        a, b = first[key], last[key]
        ratio = b / a if a else float("nan")
        f = fresh.get(key)
        fresh_ratio = b / f if f else float("nan")
        governing = ratio if reference == "day1" else fresh_ratio
        (day1_ratios if reference == "day1" else fresh_ratios).append(governing)
        mark = "ok" if governing <= 1.5 else "OVER"
        rows.append([f"{label}{f' ({unit})' if unit else ''}", a, b, f"{ratio:.2f}",
                     "" if f is None else f, "" if f is None else f"{fresh_ratio:.2f}",
                     f"{'D/1' if reference == 'day1' else 'D/fresh'} {mark}"])  # fmt: skip
    header = [
        "step",
        f"day 1 ({first['date']})",
        f"day {last['day']} ({last['date']})",
        "D/1",
        "fresh+compacted",
        "D/fresh",
        "target <=1.5",
    ]
    table = render_table(header, rows)
    return table, max(day1_ratios), len(day1_ratios), max(fresh_ratios), len(fresh_ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--per-day", type=int, default=300, help="new contents per source a day")
    parser.add_argument("--quick", action="store_true", help="14 days x 3 sources")
    parser.add_argument("--out", type=Path, help="work directory (default: a temp dir, removed)")
    parser.add_argument("--runs-per-day", type=int, default=24 * 60 // RUN_MINUTES)
    parser.add_argument("--reps", type=int, default=5, help="repetitions of the small timings")
    parser.add_argument("--start", type=date.fromisoformat,
                        help="first simulated day (default: so that a month closes and, for "
                             "runs of 35 days or more, day D is a month's last day)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    add_attachments_argument(parser, default="none")
    args = parser.parse_args(argv)
    require_no_attachments(parser, args.attachments)
    if args.quick:
        args.days, args.sources = 14, 3
    if args.days < 2:
        parser.error("--days must be at least 2")
    reps = max(1, min(args.reps, args.runs_per_day - 2))
    refreshes = min(reps, 3)
    if args.start is None:
        # Day D at the end of a month is the worst case: a whole month of uncompacted files.
        args.start = (
            date(2024, 3, 31) - timedelta(days=args.days - 1)
            if args.days >= 35
            else date(2024, 3, 1) - timedelta(days=args.days // 2)
        )
    tune_process_memory()
    tune_garbage_collection()
    owned = args.out is None
    root = Path(tempfile.mkdtemp(prefix="aging-")) if owned else args.out
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        parser.error(f"--out {root} is not empty")
    print(f"aging: {args.days} days x {args.sources} sources x ~{args.per_day} contents/day, "
          f"{args.runs_per_day} runs/day from {args.start}, attachments: none (generated "
          f"records), in {root}", flush=True)  # fmt: skip
    started = time.perf_counter()
    try:
        sim = Simulation(root, args.sources, args.per_day, args.runs_per_day, args.seed)
        first = last = None
        for d in range(args.days):
            day = datetime(args.start.year, args.start.month, args.start.day, tzinfo=UTC)
            day += timedelta(days=d)
            sim.new_day(day)
            if d in (0, args.days - 1):
                figures = measure_day(sim, day, d + 1, reps, refreshes)
                if d == 0:
                    first = figures
                else:
                    last = figures
            else:
                for traffic in sim.traffic:
                    sim.run_day(traffic, day)
            if (d + 1) % 10 == 0 or d in (0, args.days - 1):
                print(f"  day {d + 1}/{args.days} {day:%Y-%m-%d}: {sim.commits} commits, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        fresh = fresh_copy(sim, day, last, reps, refreshes)
        table, worst_day1, n_day1, worst_fresh, n_fresh = report(first, last, fresh)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print()
        print(table)
        print()
        print(f"runs: {sim.commits} commits; contents rows {last['rows']:,} "
              f"(day 1: {first['rows']:,}); manifests {last['manifests']:,} (fresh: "
              f"{fresh['manifests']:,}); catalog refresh read {last['manifests_read']:.0f} "
              f"manifests; {last['runs_measured']} runs measured on day {last['day']}, "
              f"{first['runs_measured']} on day 1; answers {last['answers']}")  # fmt: skip
        wall = time.perf_counter() - started
        print(f"benchmark process peak RSS {peak:.0f} MB; wall {wall:.0f} s")
        print(f"aging: max day-D/fresh ratio {worst_fresh:.2f} over {n_fresh} steps")
        print(f"aging: max day-D/day-1 ratio {worst_day1:.2f} over {n_day1} steps")
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
