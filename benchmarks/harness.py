"""What the out-of-process benchmarks share: a sandbox in its own process, measured child runs,
archive/output inspection and the JSON results file.

Why out of process: on a 2-core machine a sandbox in the archiver's process shares its GIL, so
the archiver's numbers would include the server's CPU. Why children for the archivers: their
peak RSS must be theirs alone, not the harness's or the other contender's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from pipelines.settings import Settings
from sandbox.config import ATTACHMENT_PROFILES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PYTHON = sys.executable
UNTHROTTLED = 1_000_000_000  # requests per window: the rate limiter never engages


class SandboxProcess:
    """`python -m sandbox serve` in a child process, spoken to over its /_sandbox admin API."""

    def __init__(
        self,
        workdir: Path,
        *,
        contents: int,
        sources: int,
        seed: int = 7,
        attachments: str = "realistic",
    ) -> None:
        self.workdir = workdir
        self.env_file = workdir / "sandbox.env"
        self.contents = contents
        self.sources = sources
        self.seed = seed
        self.attachments = attachments  # the sandbox's --attachments profile
        self.startup_seconds = 0.0
        self._process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 900.0) -> SandboxProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env_file.unlink(missing_ok=True)
        command = [PYTHON, "-m", "sandbox", "serve", "--seed", str(self.seed),
                   "--sources", str(self.sources), "--contents", str(self.contents),
                   "--light-limit", str(UNTHROTTLED), "--medium-limit", str(UNTHROTTLED),
                   "--auth-limit", str(UNTHROTTLED), "--window", "1", "--penalty", "1",
                   "--attachments", self.attachments,
                   "--env-file", str(self.env_file)]  # fmt: skip
        self._log = open(self.workdir / "sandbox.log", "wb")  # noqa: SIM115 (closed in stop)
        started = time.perf_counter()
        self._process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self._log
        )
        while not self.env_file.exists() or not self.env_file.read_text().endswith("\n"):
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"sandbox exited with {self._process.returncode}; "
                    f"see {self.workdir / 'sandbox.log'}"
                )
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"sandbox not up after {timeout:.0f} s ({command})")
            time.sleep(0.2)
        self.startup_seconds = time.perf_counter() - started
        return self

    @property
    def env(self) -> dict[str, str]:
        from pipelines.settings import load_env_file

        return load_env_file(self.env_file)

    @property
    def url(self) -> str:
        return self.env["RC_SERVER_URL"]

    @property
    def source_ids(self) -> list[str]:
        return self.env["RC_SOURCE_IDS"].split(",")

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_sandbox/stats", timeout=30).raise_for_status().json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.url}/_sandbox/reset-stats", timeout=30).raise_for_status()

    def content_ids(self, source_id: str) -> set[str]:
        response = httpx.get(
            f"{self.url}/_sandbox/content-ids", params={"sourceId": source_id}, timeout=120
        )
        return set(response.raise_for_status().json()["ids"])

    def add_content(self, source_id: str, body: str) -> str:
        response = httpx.post(
            f"{self.url}/_sandbox/contents", json={"sourceId": source_id, "body": body}, timeout=30
        )
        return response.raise_for_status().json()["id"]

    def rss_bytes(self) -> int:
        return psutil.Process(self._process.pid).memory_info().rss if self._process else 0

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log:
            self._log.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def add_attachments_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """`--attachments PROFILE` (sandbox.config.ATTACHMENT_PROFILES), one spelling for every
    benchmark: how many attachment files a history carries changes what a run downloads and
    stores, so every figure must say which profile it was measured with."""
    parser.add_argument(
        "--attachments",
        choices=ATTACHMENT_PROFILES,
        default=default,
        metavar="PROFILE",
        help="attachment files of the sandbox's generated history: "
        f"{' | '.join(ATTACHMENT_PROFILES)} (default {default}); realistic = 8%% of messages, "
        "real sizes; light = 1%%, none over 256 KiB; none = contents only",
    )


def require_no_attachments(parser: argparse.ArgumentParser, profile: str) -> None:
    """For benchmarks that generate their own rows without a sandbox: those rows list no
    attachment files, so only `none` describes the data; any other profile would label the
    figures with work they never did."""
    if profile != "none":
        parser.error(
            f"--attachments {profile}: this benchmark generates its own data without a sandbox "
            "and that data carries no attachment files; only --attachments none applies"
        )


@dataclass
class ChildRun:
    command: list[str]
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int  # VmHWM of the child, or its process tree summed (run_measured)
    cpu_seconds: float
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)
    # run:step of the child's `progress` lines -> the child's largest RSS while it was current
    # (run_measured with by_step=True; the child must print progress lines on stderr)
    peak_rss_by_step: dict[str, int] = field(default_factory=dict)

    def check(self) -> ChildRun:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.command[:4])} ... exited {self.returncode}\n"
                f"stdout tail:\n{self.stdout[-2000:]}\nstderr tail:\n{self.stderr[-3000:]}"
            )
        return self


def _high_water_bytes(pid: int) -> int:
    """The process's peak RSS so far (VmHWM of /proc/<pid>/status), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _progress_step(line: str) -> str | None:
    """`run:step` of an `rc-archive run` progress line (pipelines/progress.py), else None."""
    if not line.startswith("progress "):
        return None
    fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
    return f"{fields.get('run', '?')}:{fields.get('step', '?')}"


def run_measured(
    command: list[str], env: dict[str, str], cwd: Path = REPO, by_step: bool = False
) -> ChildRun:
    """Run a child to completion; wall time, CPU and peak RSS are the child's (and its tree's).

    Peak RSS is the child's own: its kernel high-water mark (VmHWM, which exec resets) read
    every 20 ms, or the sum over its process tree (a child that spawns workers) when larger.
    Not wait4's ru_maxrss: Linux records there the RSS of the harness's own memory at the
    moment of the fork/exec, so a harness that holds a million ids inflated every child's
    figure (rounds of one benchmark read 422, 572, 681, 777 MiB for the same run).

    `by_step`: also the child's largest RSS under each step its progress lines name (read from
    its stderr as it is written), to say which step sets the peak.
    """
    stdout_path = cwd / f".bench-{os.getpid()}-{time.monotonic_ns()}.out"
    stderr_path = stdout_path.with_suffix(".err")
    peak_tree = 0
    peak_by_step: dict[str, int] = {}
    stop = threading.Event()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)

        def sample() -> None:
            nonlocal peak_tree
            root = psutil.Process(process.pid)
            step, unread = "start", b""
            with open(stderr_path, "rb") as progress:  # progress lines go to stderr
                while not stop.is_set():
                    try:
                        tree = [root, *root.children(recursive=True)]
                        peak_tree = max(peak_tree, sum(p.memory_info().rss for p in tree),
                                        _high_water_bytes(process.pid))  # fmt: skip
                        if by_step:
                            *lines, unread = (unread + progress.read()).split(b"\n")
                            for line in lines:
                                step = _progress_step(line.decode(errors="replace")) or step
                            rss = root.memory_info().rss
                            peak_by_step[step] = max(peak_by_step.get(step, 0), rss)
                    except psutil.Error:
                        pass
                    stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
    stdout = stdout_path.read_text(errors="replace")
    stderr = stderr_path.read_text(errors="replace")
    stdout_path.unlink()
    stderr_path.unlink()
    return ChildRun(
        command=command,
        returncode=process.returncode,
        wall_seconds=wall,
        peak_rss_bytes=peak_tree,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        stdout=stdout,
        stderr=stderr,
        peak_rss_by_step=peak_by_step,
    )


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The harness's environment minus anything that would point a child at shared state."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("RC_")}
    env.update(extra)
    return env


def rc_archive_command(env_file: Path, reconcile: str = "sample") -> list[str]:
    return [PYTHON, "-m", "cli", "run", "--env-file", str(env_file),
            "--reconcile", reconcile]  # fmt: skip


def files_and_bytes(root: Path, suffix: str | None = None) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    files = [p for p in files if suffix is None or p.name.endswith(suffix)]
    return len(files), sum(p.stat().st_size for p in files)


def archived_content_ids(archive_root: Path) -> list[str]:
    """Ids in the committed contents files only (what the views would read), with repeats."""
    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import open_store

    ledger = Ledger(open_store(str(archive_root), Settings()))
    entries = ledger.committed_files("contents")
    if not entries:
        return []
    return ledger.read_table(entries, columns=["id"]).column("id").to_pylist()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def mib(n_bytes: float) -> float:
    return n_bytes / 2**20


def render_table(header: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def code_version() -> str:
    """The commit the figures were measured on (with "+changes" when the tree differs from
    it), so a recorded figure can always be traced to its code."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}+changes" if dirty else commit


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "at": stamp, "commit": code_version(),
               "python": sys.version.split()[0], "cpus": os.cpu_count(),
               "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
               **payload}  # fmt: skip
    path.write_text(json.dumps(payload, indent=2, default=_jsonable), encoding="utf-8")
    return path


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)
