"""End-to-end capture lag as a user runs the product: how long after the API shows a version is
it in a committed manifest of the archive?

    lag = committed_at of the first manifest whose rows hold the version
          - the version's lastModifiedTime (as the API serves it: whole seconds)

Everything runs as the separate processes a deployment has: the sandbox API
(`python -m sandbox serve`, its default limits: Light 50 requests / 60 s, 60 s penalty, Auth 5
/ 60 s), `rc-archive receive` with the webhook settings of docs/webhooks.md and a subscription
made by `rc-archive subscribe`, `dagster-daemon run` and `dagster-webserver` on workspace.yaml
with a fresh DAGSTER_HOME whose dagster.yaml is dagster.example.yaml's run coordinator and
concurrency (one run per source, the one-slot `ringcentral_api` pool) on Dagster's default
SQLite storage. Sensors and schedules run as shipped (their default status is RUNNING): the
`webhook_events` sensor (15 s), `archive_schedule`, the audit views sensor and the rest.

Per mode: an initial `rc-archive run` of every source first (the window then measures the
steady state), the services start, then `--seconds` of traffic, then a drain (traffic stopped)
until every version the window showed is archived, or every message's last version is archived
and `LAST_RUNS_SETTLE` seconds more passed (a replaced version is no longer served, so only a run
already holding it could still commit it), or `--drain` seconds passed.

Traffic is driven from here through the sandbox's admin API (/_sandbox, not rate limited), not
by the sandbox's `--live-rate` generator: that one makes the same mix of changes but only the
sandbox knows them, and every version must be counted, intermediate edits too. Each tick
(`--rate` per second, default 1) makes one new message on one of the `--sources` (a customer
message, an agent reply, which also moves the replied message to status Replied: a version, or
an agent-initiated discussion), then with probability `--edit-p` an edit and `--delete-p` a
remote deletion of a recent message. After each change the content is read back (admin GET,
the record the API serves) and its version (id + `schemas.contents.version_sha256`) is
recorded with its lastModifiedTime. Webhooks carry new messages only (Imported, Exported,
DiscussionInitiated); edits, deletions and status changes are found by the runs' sweeps.

Archived = the version's hash is a row of a committed `contents` batch manifest (matched by
version hash, so two changes of one message within the same second are told apart).

Modes: by default both, one after the other on fresh processes: `webhooks` (receiver,
subscription, the schedule at its default `*/15 * * * *`) and `polling` (no webhook settings:
only the schedule, with ARCHIVE_SCHEDULE_CRON set to every minute so a bounded run sees it
work; production polls every 15 minutes, so its lag is up to 15 minutes more). `--no-webhooks`
runs the polling mode only, `--webhooks-only` the webhook mode only. The last line is the
webhook mode's (the polling mode's when it ran alone):

    capture_lag: p95 X s, max Y s, versions N/M, 429s K

Also printed per mode: the lag's p50/p95/max, where it goes (version -> run requested -> run
started -> manifest committed, from Dagster's run records), the runs, Light requests per
minute (mean over window + drain, and the busiest 60 s, sampled from /_sandbox/stats every
5 s) against the limit, and the 429s. Results: benchmarks/results/capture_lag-<time>.json.

    .venv/bin/python benchmarks/capture_lag.py --seconds 120 --workdir /tmp/capture-lag
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from unittest import mock

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psutil
import yaml

from benchmarks.harness import PYTHON, REPO, percentile, write_results
from pipelines.settings import load_env_file
from schemas.common import parse_api_time
from schemas.contents import version_sha256

BIN = Path(PYTHON).parent
LIGHT_LIMIT_PER_MINUTE = 50  # the sandbox's default, RingCentral's Light group
TOKEN_ENV = "RC_WEBHOOK_VERIFICATION_TOKEN"
WEBHOOK_TAG = "rc-archive/webhook-events"
SCHEDULED_TAG = "rc-archive/scheduled"
MODES = ("webhooks", "polling")
# After every message's last version is archived, how long a run already in flight may still
# commit a version that was replaced meanwhile (a run lasts up to about 15 s here).
LAST_RUNS_SETTLE = 30.0


# ----------------------------------------------------------------------------- pure parts
@dataclass(frozen=True)
class ShownVersion:
    """One version the API showed during the window: what the traffic made it, and when."""

    content_id: str
    source_id: str
    kind: str  # new | reply | initiated | replied | edit | delete
    last_modified: float  # epoch seconds of lastModifiedTime as served (whole seconds)
    changed_at: float  # epoch seconds just before the change was made (sub-second)
    sha256: str


@dataclass(frozen=True)
class Commit:
    """The first committed batch manifest holding a version."""

    committed_at: float
    run_id: str
    manifest_key: str


@dataclass
class Match:
    version: ShownVersion
    commit: Commit | None

    @property
    def lag(self) -> float | None:
        return (
            None if self.commit is None else self.commit.committed_at - self.version.last_modified
        )


def spread(values: list[float]) -> dict[str, float | None]:
    """p50 / p95 / max, rounded to 0.1 s; None for an empty list."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


def match_versions(shown: list[ShownVersion], archived: dict[str, Commit]) -> list[Match]:
    """Each shown version with the first commit that holds its hash (None: not archived)."""
    return [Match(v, archived.get(v.sha256)) for v in shown]


def busiest_minute(samples: list[tuple[float, int]], window: float = 60.0) -> int:
    """The most requests any `window` seconds between two samples saw, from (time, running
    count) samples in time order (a lower bound of the true peak: samples are seconds apart)."""
    best = 0
    start = 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] > window:
            start += 1
        best = max(best, samples[end][1] - samples[start][1])
    return best


def final_line(p95: float | None, worst: float | None, archived: int, shown: int, k429: int) -> str:
    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    return (
        f"capture_lag: p95 {seconds(p95)} s, max {seconds(worst)} s, "
        f"versions {archived}/{shown}, 429s {k429}"
    )


# ----------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Services:
    """Child processes, each in its own process group (Dagster's ignore a plain SIGTERM
    otherwise), logs under `logs/`; stopped group by group, newest first."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen, object]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.children.append((name, process, log))
        return process

    def check_alive(self) -> None:
        for name, process, _ in self.children:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self.logs / (name + '.log')}"
                )

    def stop(self) -> None:
        # Run workers the daemon's code server launched may sit in other process groups.
        descendants = []
        for _, process, _ in self.children:
            with contextlib.suppress(psutil.Error):
                descendants += psutil.Process(process.pid).children(recursive=True)
        for _, process, _ in reversed(self.children):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(descendants, timeout=30)
        for leftover in alive:
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        for _, process, log in reversed(self.children):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
        self.children.clear()


def wait_until(what: str, ready, timeout: float, services: Services | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if services is not None:
            services.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.5)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def location_loaded(port: int) -> bool:
    """The webserver answers and the code location loaded (a load error stops the benchmark)."""
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus " \
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"  # fmt: skip
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=5)
        entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False
    for entry in entries:
        if entry["loadStatus"] == "LOADED":
            location = entry["locationOrLoadError"] or {}
            if location.get("__typename") == "PythonError":
                raise RuntimeError(f"code location failed to load: {location.get('message')}")
            return True
    return False


def dagster_yaml(run_buffer: int | None = None, storage: str = "sqlite") -> str:
    """dagster.example.yaml's run coordinator and concurrency, on Dagster's default SQLite
    storage or (`storage="postgres"`) on the example's own Postgres storage, whose DAGSTER_PG_*
    settings the caller provides. `run_buffer`: Dagster's `pools.op_granularity_run_buffer`
    (runs the queue launches beyond the free pool slots; unset = as the example ships)."""
    config = yaml.safe_load((REPO / "dagster.example.yaml").read_text())
    if storage == "sqlite":
        config.pop("storage", None)
    if run_buffer is not None:
        config["concurrency"]["pools"]["op_granularity_run_buffer"] = run_buffer
    return yaml.safe_dump(config, sort_keys=False)


def run_cli(env: dict[str, str], *args: str, timeout: float) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"rc-archive {' '.join(args)} exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


# ----------------------------------------------------------------------------- traffic
class Traffic:
    """Drives the sandbox's admin API at `rate` new messages a second and records every
    version it makes (see the module docstring)."""

    def __init__(self, url: str, sources: list[str], args: argparse.Namespace) -> None:
        self.url = url
        self.sources = sources
        self.rate = args.rate
        self.edit_p = args.edit_p
        self.delete_p = args.delete_p
        self.rng = random.Random(args.seed)
        self.http = httpx.Client(base_url=url, timeout=30)
        self.shown: list[ShownVersion] = []
        self.errors: list[str] = []
        self._last: dict[str, str] = {}  # content id -> last recorded version hash
        self._recent: list[str] = []  # ids made during the window
        self._unanswered: list[str] = []  # customer messages not replied to yet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.http.close()

    def _post(self, path: str, body: dict | None = None) -> dict:
        return self.http.post(path, json=body or {}).raise_for_status().json()

    def _record(self, content_id: str, kind: str, changed_at: float) -> None:
        record = self.http.get(f"/_sandbox/contents/{content_id}").raise_for_status().json()
        digest = version_sha256(record)
        if self._last.get(content_id) == digest:
            return
        self._last[content_id] = digest
        modified = parse_api_time(record.get("lastModifiedTime"))
        self.shown.append(
            ShownVersion(
                content_id=content_id,
                source_id=record.get("sourceId") or record.get("channelId") or "",
                kind=kind,
                last_modified=modified.timestamp() if modified else changed_at,
                changed_at=changed_at,
                sha256=digest,
            )
        )

    def _new_message(self) -> None:
        roll = self.rng.random()
        source = self.rng.choice(self.sources)
        changed_at = time.time()
        if roll < 0.3 and self._unanswered:
            target = self._unanswered.pop(self.rng.randrange(len(self._unanswered)))
            new_id = self._post(f"/_sandbox/contents/{target}/reply")["id"]
            self._record(new_id, "reply", changed_at)
            self._record(target, "replied", changed_at)
        elif roll < 0.35:
            try:
                new_id = self._post("/_sandbox/initiate", {"sourceId": source})["id"]
            except httpx.HTTPStatusError:  # the source cannot initiate: a customer message
                new_id = self._post("/_sandbox/contents", {"sourceId": source})["id"]
            self._record(new_id, "initiated", changed_at)
        else:
            new_id = self._post("/_sandbox/contents", {"sourceId": source})["id"]
            self._unanswered.append(new_id)
            self._record(new_id, "new", changed_at)
        self._recent.append(new_id)
        del self._recent[:-200]
        del self._unanswered[:-100]

    def _change(self, kind: str) -> None:
        if not self._recent:
            return
        target = self.rng.choice(self._recent)
        changed_at = time.time()
        self._post(f"/_sandbox/contents/{target}/{kind}")
        self._record(target, kind, changed_at)

    def _run(self) -> None:
        started = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            try:
                self._new_message()
                if self.rng.random() < self.edit_p:
                    self._change("edit")
                if self.rng.random() < self.delete_p:
                    self._change("delete")
            except httpx.HTTPError as exc:
                self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            tick += 1
            self._stop.wait(max(0.0, started + tick / self.rate - time.monotonic()))


class StatsSampler:
    """/_sandbox/stats every `every` seconds: Light requests and 429s over time."""

    def __init__(self, url: str, every: float = 5.0) -> None:
        self.url = url
        self.every = every
        self.samples: list[tuple[float, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats", daemon=True)

    def snapshot(self) -> dict:
        return httpx.get(f"{self.url}/_sandbox/stats", timeout=30).raise_for_status().json()

    def start(self) -> None:
        self.samples.append((time.time(), self.snapshot()))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.samples.append((time.time(), self.snapshot()))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(httpx.HTTPError):
                self.samples.append((time.time(), self.snapshot()))

    def series(self, group: str) -> list[tuple[float, int]]:
        return [(t, s["by_group"].get(group, 0)) for t, s in self.samples]


# ----------------------------------------------------------------------------- archive
class ArchiveCommits:
    """Version hash -> first committed batch manifest holding it, read incrementally."""

    def __init__(self, archive_uri: str) -> None:
        self.archive_uri = archive_uri
        self.commits: dict[str, Commit] = {}
        self._seq: dict[str, int] = {}

    def refresh(self) -> dict[str, Commit]:
        from pipelines.archive.ledger import Ledger
        from pipelines.archive.store import open_store
        from pipelines.settings import Settings

        ledger = Ledger(open_store(self.archive_uri, Settings()))
        for stream in ledger.streams("contents"):
            for key in ledger.manifest_keys("contents", stream, self._seq.get(stream, -1)):
                manifest = ledger.read_manifest(key)
                self._seq[stream] = max(self._seq.get(stream, -1), manifest.seq)
                files = [f for f in manifest.files if f.table == "contents"]
                if not manifest.is_batch or not files:
                    continue
                committed = datetime.fromisoformat(manifest.committed_at.replace("Z", "+00:00"))
                commit = Commit(committed.timestamp(), manifest.run_id, key)
                hashes = ledger.read_table(files, columns=["record_sha256"]).column(0)
                for digest in hashes.to_pylist():
                    self.commits.setdefault(digest, commit)
        return self.commits


@dataclass
class RunInfo:
    run_id: str
    status: str
    trigger: str  # webhook | schedule | other
    created: float
    dequeued: float | None  # the run queue launched it (RUN_STARTING: a pool slot was free)
    started: float | None  # its process began executing (RUN_START)
    ended: float | None


def archive_runs(home: Path) -> dict[str, RunInfo]:
    """The `archive_sources` runs of the instance, by run id."""
    import dagster as dg

    runs: dict[str, RunInfo] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="archive_sources"))
        for record in records:
            dequeued = [
                entry.timestamp
                for entry in instance.all_logs(
                    record.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_STARTING
                )
            ]
            tags = record.dagster_run.tags
            trigger = (
                "webhook" if WEBHOOK_TAG in tags else "schedule" if SCHEDULED_TAG in tags
                else "other"
            )  # fmt: skip
            runs[record.dagster_run.run_id] = RunInfo(
                run_id=record.dagster_run.run_id,
                status=record.dagster_run.status.value,
                trigger=trigger,
                created=record.create_timestamp.timestamp(),
                dequeued=min(dequeued) if dequeued else None,
                started=record.start_time,
                ended=record.end_time,
            )
    return runs


# ----------------------------------------------------------------------------- one mode
@dataclass
class ModeResult:
    mode: str
    attachments: str
    schedule_cron: str
    run_buffer: int | None
    window_seconds: float
    drain_seconds: float
    shown: int
    archived: int
    lag_s: dict
    lag_from_change_s: dict
    lag_by_kind: dict
    breakdown_s: dict
    missed: list[dict]
    runs: dict
    light_requests: int
    light_per_minute_mean: float
    light_busiest_60s: int
    auth_requests: int
    auth_busiest_60s: int
    count_429: int
    initial_run_seconds: float
    startup_seconds: float
    traffic_errors: list[str] = field(default_factory=list)


def run_mode(mode: str, args: argparse.Namespace, workdir: Path) -> ModeResult:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    services = Services(workdir / "logs")
    with contextlib.ExitStack() as stack:
        if args.dagster_storage == "postgres":
            from tests.fixtures.postgres import running_postgres

            # The storage's settings for every process of the mode, this one included (it
            # reads the instance afterwards: archive_runs).
            server = stack.enter_context(running_postgres())
            stack.enter_context(mock.patch.dict(os.environ, server.env))
        try:
            return _run_mode(mode, args, workdir, services)
        finally:
            services.stop()
            stop_strays(workdir / "dagster_home")


def stop_strays(home: Path) -> None:
    """Kill code servers the daemon gave up on (it starts a new one when one stops answering;
    the old one is re-parented and escapes the process-tree stop): ours carry our DAGSTER_HOME."""
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid != os.getpid() and process.environ().get("DAGSTER_HOME") == str(home):
                process.kill()


def _run_mode(mode: str, args: argparse.Namespace, workdir: Path, services: Services) -> ModeResult:
    say = lambda text: print(f"[{mode} {time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    began = time.monotonic()
    env_file = workdir / "sandbox.env"
    services.start("sandbox", [
        PYTHON, "-m", "sandbox", "serve", "--seed", str(args.seed), "--sources", str(args.sources),
        "--contents", str(args.contents), "--attachments", args.attachments,
        "--env-file", str(env_file),
    ], {**os.environ})  # fmt: skip
    wait_until("sandbox", lambda: env_file.exists() and env_file.read_text().endswith("\n"),
               600, services)  # fmt: skip
    sandbox_env = load_env_file(env_file)
    url = sandbox_env["RC_SERVER_URL"]
    sources = sandbox_env["RC_SOURCE_IDS"].split(",")
    home = workdir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(args.run_buffer, args.dagster_storage))
    archive_uri = str(workdir / "archive")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("RC_")}
    env.update(sandbox_env)
    env.update({"ARCHIVE_URI": archive_uri, "AUDIT_DB": str(workdir / "audit.duckdb"),
                "DAGSTER_HOME": str(home)})  # fmt: skip
    cron = "*/15 * * * *" if mode == "webhooks" else "* * * * *"
    env["ARCHIVE_SCHEDULE_CRON"] = cron
    if mode == "webhooks":
        port = free_port()
        env[TOKEN_ENV] = secrets.token_urlsafe(32)
        env["RC_WEBHOOK_ADDRESS"] = f"http://127.0.0.1:{port}/"
        services.start("receiver", [PYTHON, "-m", "cli", "receive", "--host", "127.0.0.1",
                                    "--port", str(port)], env)  # fmt: skip
        wait_until("receiver", lambda: port_open(port), 120, services)
        say("receiver up; subscribing")
        run_cli(env, "subscribe", timeout=300)
    say(f"sandbox up ({len(sources)} sources, {args.contents} contents); initial run")
    migrated = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=REPO, env=env,
                              capture_output=True, text=True)  # fmt: skip
    if migrated.returncode != 0:
        raise RuntimeError(f"dagster instance migrate failed:\n{migrated.stdout}{migrated.stderr}")
    initial_started = time.monotonic()
    run_cli(env, "run", timeout=1800)
    initial_seconds = time.monotonic() - initial_started
    say(f"initial run done in {initial_seconds:.0f} s; starting dagster")
    web_port = free_port()
    workspace = str(REPO / "workspace.yaml")
    services.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env)
    services.start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p",
                                 str(web_port), "-w", workspace], env)  # fmt: skip
    wait_until("dagster-webserver", lambda: location_loaded(web_port), 600, services)
    # The daemon's sensors need their first tick (the webhook sensor's cursor); give it one.
    time.sleep(args.settle)
    startup_seconds = time.monotonic() - began
    archive = ArchiveCommits(archive_uri)
    archive.refresh()
    stats = StatsSampler(url)
    stats.start()
    traffic = Traffic(url, sources, args)
    window_started = time.time()
    say(f"traffic for {args.seconds:.0f} s")
    traffic.start()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        services.check_alive()
        time.sleep(1)
    traffic.stop()
    window_ended = time.time()
    say(f"window over: {len(traffic.shown)} versions shown; draining (up to {args.drain:.0f} s)")
    drain_deadline = time.monotonic() + args.drain
    # A version a later change replaced is no longer served: once every message's last version
    # is archived, only a run already holding a replaced one could still commit it.
    last_versions = [v for v in traffic.shown if _superseded_after(v, traffic.shown) is None]
    settled_at = None
    while True:
        commits = archive.refresh()
        missing = sum(1 for v in traffic.shown if v.sha256 not in commits)
        if missing == 0 or time.monotonic() > drain_deadline:
            break
        if settled_at is None and all(v.sha256 in commits for v in last_versions):
            settled_at = time.monotonic()
        if settled_at is not None and time.monotonic() - settled_at > LAST_RUNS_SETTLE:
            break
        services.check_alive()
        time.sleep(5)
    drained = time.time()
    stats.stop()
    say(f"drain over after {drained - window_ended:.0f} s: {missing} versions not archived")
    services.stop()  # the instance is read after the daemon let go of it
    runs = archive_runs(home)
    return summarise(
        mode, args, cron, traffic, archive.commits, runs, stats,
        (window_started, window_ended, drained), initial_seconds, startup_seconds,
    )  # fmt: skip


def summarise(
    mode: str,
    args: argparse.Namespace,
    cron: str,
    traffic: Traffic,
    commits: dict[str, Commit],
    runs: dict[str, RunInfo],
    stats: StatsSampler,
    times: tuple[float, float, float],
    initial_seconds: float,
    startup_seconds: float,
) -> ModeResult:
    window_started, window_ended, drained = times
    matches = match_versions(traffic.shown, commits)
    done = [m for m in matches if m.commit is not None]
    lags = [m.lag for m in done]
    by_kind: dict[str, list[float]] = {}
    for m in done:
        by_kind.setdefault(m.version.kind, []).append(m.lag)
    to_request, queued, launching, in_run = [], [], [], []
    for m in done:
        run = runs.get(m.commit.run_id)
        if run is None or run.started is None or run.dequeued is None:
            continue
        to_request.append(run.created - m.version.last_modified)
        queued.append(run.dequeued - run.created)
        launching.append(run.started - run.dequeued)
        in_run.append(m.commit.committed_at - run.started)
    in_window = [r for r in runs.values() if r.created >= window_started]
    durations = [r.ended - r.started for r in in_window if r.started and r.ended]
    triggers: dict[str, int] = {}
    for r in in_window:
        triggers[r.trigger] = triggers.get(r.trigger, 0) + 1
    first, last = stats.samples[0][1], stats.samples[-1][1]
    light = last["by_group"].get("Light", 0) - first["by_group"].get("Light", 0)
    missed = [
        {**asdict(m.version), "superseded_after_s": _superseded_after(m.version, traffic.shown)}
        for m in matches
        if m.commit is None
    ]
    return ModeResult(
        mode=mode,
        attachments=args.attachments,
        schedule_cron=cron,
        run_buffer=args.run_buffer,
        window_seconds=round(window_ended - window_started, 1),
        drain_seconds=round(drained - window_ended, 1),
        shown=len(matches),
        archived=len(done),
        lag_s=spread(lags),
        lag_from_change_s=spread([m.commit.committed_at - m.version.changed_at for m in done]),
        lag_by_kind={kind: {"n": len(v), **spread(v)} for kind, v in sorted(by_kind.items())},
        breakdown_s={
            "version_to_run_requested": spread(to_request),
            "run_requested_to_dequeued": spread(queued),
            "run_dequeued_to_started": spread(launching),
            "run_started_to_committed": spread(in_run),
        },
        missed=missed,
        runs={
            "in_window_and_drain": len(in_window),
            "by_trigger": triggers,
            "failed": sum(
                1 for r in in_window if r.status == "FAILURE" and (r.ended or 0) < drained
            ),
            "queued_or_running_at_end": sum(
                1 for r in in_window if r.ended is None or r.ended >= drained
            ),
            "duration_s": spread(durations),
        },
        light_requests=light,
        light_per_minute_mean=round(light / max(1e-9, (drained - window_started) / 60), 1),
        light_busiest_60s=busiest_minute(stats.series("Light")),
        auth_busiest_60s=busiest_minute(stats.series("Auth")),
        auth_requests=last["by_group"].get("Auth", 0) - first["by_group"].get("Auth", 0),
        count_429=last["count_429"] - first["count_429"],
        initial_run_seconds=round(initial_seconds, 1),
        startup_seconds=round(startup_seconds, 1),
        traffic_errors=traffic.errors[:20],
    )


def _superseded_after(version: ShownVersion, shown: list[ShownVersion]) -> float | None:
    """Seconds until the next version of the same message (None: it is the last one)."""
    later = [
        v.changed_at
        for v in shown
        if v.content_id == version.content_id and v.changed_at > version.changed_at
    ]
    return round(min(later) - version.changed_at, 1) if later else None


def render(result: ModeResult) -> str:
    def fmt(s: dict) -> str:
        if s.get("p50") is None:
            return "n/a"
        return f"p50 {s['p50']} s, p95 {s['p95']} s, max {s['max']} s"

    b = result.breakdown_s
    note = " (every minute for a bounded benchmark; production: */15)"
    note = note if result.mode == "polling" else ""
    lines = [
        f"== mode {result.mode}: attachments {result.attachments}, "
        f"schedule {result.schedule_cron!r}{note}, pool run buffer "
        f"{'as dagster.example.yaml' if result.run_buffer is None else result.run_buffer}",
        f"window {result.window_seconds:.0f} s, drain {result.drain_seconds:.0f} s "
        f"(initial run {result.initial_run_seconds:.0f} s, "
        f"start-up {result.startup_seconds:.0f} s)",
        f"lag (commit - lastModifiedTime): {fmt(result.lag_s)}",
        f"lag (commit - change, sub-second): {fmt(result.lag_from_change_s)}",
        *(f"  {kind:9s} n={v['n']:4d}: {fmt(v)}" for kind, v in result.lag_by_kind.items()),
        "  where it goes (per archived version, through the run that committed it):",
        f"  version -> run requested: {fmt(b['version_to_run_requested'])}",
        f"  run requested -> dequeued (run queue, pool): {fmt(b['run_requested_to_dequeued'])}",
        f"  run dequeued -> started (process start-up): {fmt(b['run_dequeued_to_started'])}",
        f"  run started -> committed: {fmt(b['run_started_to_committed'])}",
        f"versions the API showed vs archived: {result.archived}/{result.shown}",
        f"runs: {result.runs['in_window_and_drain']} {result.runs['by_trigger']}, "
        f"failed {result.runs['failed']}, unfinished at the end "
        f"{result.runs['queued_or_running_at_end']}, duration {fmt(result.runs['duration_s'])}",
        f"Light requests: {result.light_requests} = {result.light_per_minute_mean}/min mean, "
        f"busiest 60 s {result.light_busiest_60s} (limit {LIGHT_LIMIT_PER_MINUTE}/60 s); "
        f"Auth {result.auth_requests}, busiest 60 s {result.auth_busiest_60s} (limit 5/60 s); "
        f"429s {result.count_429}",
    ]
    if result.missed:
        kinds: dict[str, int] = {}
        for v in result.missed:
            kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
        superseded = sum(1 for v in result.missed if v["superseded_after_s"] is not None)
        lines.append(f"not archived by kind: {kinds}; {superseded} of them superseded later")
    if result.traffic_errors:
        lines.append(
            f"traffic errors: {len(result.traffic_errors)} (first: {result.traffic_errors[0]})"
        )
    return "\n".join(lines)


def write_json(results: list[ModeResult], args: argparse.Namespace) -> Path:
    return write_results(
        "capture_lag",
        {
            "args": {k: v for k, v in vars(args).items() if k != "workdir"},
            "modes": {r.mode: asdict(r) for r in results},
        },
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="traffic window (120)")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch directory")
    parser.add_argument("--attachments", choices=["none", "light", "realistic"], default="light")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--no-webhooks", action="store_true", help="the polling mode only")
    only.add_argument("--webhooks-only", action="store_true", help="the webhook mode only")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--contents", type=int, default=2000, help="initial history (2000)")
    parser.add_argument("--rate", type=float, default=1.0, help="new messages a second (1)")
    parser.add_argument("--edit-p", type=float, default=0.25, help="edits per tick (0.25)")
    parser.add_argument("--delete-p", type=float, default=0.1, help="deletions per tick (0.1)")
    parser.add_argument("--drain", type=float, default=600.0, help="max drain seconds (600)")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds between Dagster up and the window (20)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--dagster-storage", choices=["sqlite", "postgres"], default="sqlite",
        help="Dagster's run and event storage: its default SQLite, or a local PostgreSQL "
        "cluster with dagster.example.yaml's storage section (needs Debian's postgresql)",
    )  # fmt: skip
    parser.add_argument(
        "--run-buffer", type=int, default=None,
        help="set concurrency.pools.op_granularity_run_buffer (default: as dagster.example.yaml)",
    )  # fmt: skip
    return parser.parse_args(argv)


def iter_modes(args: argparse.Namespace) -> Iterator[str]:
    if args.no_webhooks:
        yield "polling"
    elif args.webhooks_only:
        yield "webhooks"
    else:
        yield from MODES


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    for mode in iter_modes(args):
        result = run_mode(mode, args, args.workdir / mode)
        print(render(result), flush=True)
        results.append(result)
    path = write_json(results, args)
    print(f"results: {path.relative_to(REPO)}")
    last = next((r for r in results if r.mode == "webhooks"), results[0])
    print(final_line(last.lag_s["p95"], last.lag_s["max"], last.archived, last.shown,
                     last.count_429))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
