"""Proof under fire: the same small account archived under each fault the pipeline must survive.

Every case runs the real asset graph (`run_sources`, as `rc-archive run` does) against the
sandbox over HTTP, reads the archive back through the audit views (`build_catalog`, then the
`contents` view) and compares it with the sandbox's own data: every visible content archived
with its current version, every version exactly once, `verify` clean. A run under a fault either
succeeds, or fails with a message a person can act on and succeeds on the re-run once the fault
is lifted. Each case records what happened and what the operator saw in
benchmarks/results/fault_matrix.json, from which benchmarks/fault_table.py prints the fault table
table.

Test doubles, for fault injection only: `S3FaultProxy` (tests/e2e/s3_fault_proxy.py) sits in
front of the real S3 server (moto over HTTP) and breaks a share of PutObject requests. Disk
faults are real: a 2 MB tmpfs fills up, and a read-only bind mount refuses writes (we run as
root, which ignores chmod, hence the mount).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.fault_support import (
    apply_env,
    archive,
    assert_matches_sandbox,
    noisy_neighbour,
    read_back,
    record,
    when_contents_requested,
)
from tests.e2e.s3_fault_proxy import S3FaultProxy

pytestmark = pytest.mark.slow

# Attachment files of 8 KiB each: the faults meet attachments by their number (downloads,
# puts), not their size, and the corpus' 5 MB videos made each S3 case push ~500 MB through
# the proxy and moto (large files are tests/attachments' and tests/archive's subject).
SMALL_FILES = dict(large_attachment_every=1, large_attachment_bytes=8192)
# Two sources of ~270 contents each (one page each; ~100 attachment files between them), and
# limits that keep the sandbox fast.
ACCOUNT = dict(sources=2, contents=800, **SMALL_FILES)
# Large enough for two +creationTime pages (perPage=1000) per source: a crawl has a "middle".
TWO_PAGE_ACCOUNT = dict(sources=2, contents=2900, **SMALL_FILES)
# The S3 cases: moto is slow per request, and a batch writes a file per day it spans: over 10
# days rather than 90, still a few hundred puts (contents, attachment files, the views' files),
# so a fifth of them failing and a tenth reset hit many.
S3_ACCOUNT = dict(sources=2, contents=600, days=10, **SMALL_FILES)
# The full disk: the corpus' own file sizes, the largest of which cannot fit at all.
DISK_ACCOUNT = dict(sources=2, contents=1600)
# Small batches, so a failure can land between commits; the sampled reconciliation is what the
# schedule runs (this file's own comparison with the sandbox is the full proof).
RUN = dict(reconcile_mode="sample", batch_records=300)
# moto is slow per request: one batch per source keeps the S3 cases to a few hundred puts.
S3_RUN = dict(reconcile_mode="sample")


@pytest.fixture
def local_env(tmp_path, monkeypatch):
    """Settings for a run into a local archive; returns a function that applies them."""

    def make(sb, archive_dir: Path | None = None) -> dict[str, str]:
        env = dict(sb.env)
        env["ARCHIVE_URI"] = str(archive_dir or tmp_path / "archive")
        env["AUDIT_DB"] = str(tmp_path / "audit.duckdb")
        apply_env(monkeypatch, env)
        return env

    return make


def _readback(env, tmp_path):
    return read_back(env, tmp_path / "check.duckdb")


# -- API faults ------------------------------------------------------------------------------


def test_429_storm_and_the_penalty(sandbox_factory, local_env, tmp_path):
    # Light limit 15 per 1 s window, penalty scaled from 60 s to 1 s. A forced storm of 429s
    # on contents and identities, and a noisy neighbour (same app and user, unpaced) that
    # trips the server's real limiter and keeps restarting its penalty for 2.5 s mid-run.
    sb = sandbox_factory(**ACCOUNT, light_limit=15, window_seconds=1.0, penalty_seconds=1.0)
    env = local_env(sb)
    sb.faults.set("contents", burst_429=5)
    sb.faults.set("identities", burst_429=3)
    neighbours = []
    with when_contents_requested(sb, lambda: neighbours.append(noisy_neighbour(sb, 2.5))):
        run = archive(env, **RUN)
    for thread in neighbours:
        thread.join()
    state = _readback(env, tmp_path)

    assert run.success, run.errors
    assert sb.stats.count_429 >= 20  # the storm plus the penalty the neighbour kept alive
    assert_matches_sandbox(sb, state)
    record(
        "429 storm + rate-limit penalty (60 s scaled to 1 s)",
        f"client honours Retry-After and holds back every thread of the group; "
        f"{sb.stats.count_429} 429s served, complete archive in one run "
        f"({run.seconds:.0f} s)",
        run.operator_view()
        + f"; contents metadata rate_limited_429s={run.contents_metadata('rate_limited_429s')}",
        runs=[run],
        state=state,
    )


@pytest.mark.parametrize(
    ("fault", "settings", "label"),
    [
        ("5xx", dict(error_5xx_ratio=0.3), "5xx bursts (30% of API requests)"),
        ("slow", dict(slow_seconds=0.4), "slow responses (+0.4 s per request)"),
        ("drop", dict(drop_connection_ratio=0.25), "dropped connections (25% of requests)"),
    ],
)
def test_transient_api_faults(sandbox_factory, local_env, tmp_path, fault, settings, label):
    sb = sandbox_factory(**ACCOUNT)
    env = local_env(sb)
    sb.faults.set("*", **settings)
    run = archive(env, **RUN)
    runs = [run]
    if not run.success:
        # Past the client's 6 attempts: Dagster would retry the step; the operator re-runs.
        sb.faults.clear()
        runs.append(archive(env, **RUN))
        assert runs[-1].success, runs[-1].errors
        assert run.errors and all(("Server" in e or "response" in e) for e in run.errors)
    state = _readback(env, tmp_path)
    assert_matches_sandbox(sb, state)
    requests = sb.stats.requests()
    reaction = "waits (timeouts leave room)" if fault == "slow" else "backs off and retries"
    record(
        label,
        f"client {reaction} ({requests} requests served); "
        + ("complete archive in one run" if run.success else "step failed, re-run completes"),
        run.operator_view(),
        runs=runs,
        state=state,
    )


def test_access_token_expired_mid_run(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**ACCOUNT)
    env = local_env(sb)
    with when_contents_requested(sb, sb.faults.expire_tokens_now):
        run = archive(env, **RUN)
    state = _readback(env, tmp_path)
    assert run.success, run.errors
    assert_matches_sandbox(sb, state)
    record(
        "access token expires mid-run (401 OAU-128)",
        "client logs in again with the JWT and repeats the request; complete archive",
        run.operator_view(),
        runs=[run],
        state=state,
    )


def _revoke_every_session(sb) -> None:
    # The sandbox's auth service holds the sessions; revoking one token ends its session
    # (API notes §7.2), as an admin revoking the app's tokens would.
    for token in list(sb.auth._by_access):
        sb.auth.revoke(token)


def test_session_revoked_mid_run(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**ACCOUNT)
    env = local_env(sb)
    with when_contents_requested(sb, lambda: _revoke_every_session(sb)):
        run = archive(env, **RUN)
    runs = [run]
    if not run.success:
        assert any("OAU-" in e for e in run.errors), run.errors
        runs.append(archive(env, **RUN))
        assert runs[-1].success, runs[-1].errors
    state = _readback(env, tmp_path)
    assert_matches_sandbox(sb, state)
    record(
        "session revoked mid-run (401 OAU-213)",
        "client logs in again with the JWT (a revoked session is not a revoked app); "
        + ("complete archive in one run" if run.success else "re-run completes"),
        run.operator_view(),
        runs=runs,
        state=state,
    )


def test_page_tokens_refused_mid_crawl(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**TWO_PAGE_ACCOUNT)
    env = local_env(sb)
    with when_contents_requested(sb, lambda: sb.faults.set("contents", refuse_page_tokens=True)):
        first = archive(env, **RUN)
    runs = [first]
    # The saved token of a later run is refused too: the design's descending fallback.
    source = sb.world.source_ids[0]
    added = [sb.world.add_content(source) for _ in range(5)]
    second = archive(env, **RUN)
    runs.append(second)
    if not second.success:
        sb.faults.clear("contents")
        runs.append(archive(env, **RUN))
    sb.faults.clear("contents")
    final = archive(env, **RUN)
    runs.append(final)
    assert final.success, final.errors
    state = _readback(env, tmp_path)
    assert_matches_sandbox(sb, state)
    assert {i for i, _ in state.versions} >= set(added)
    what = []
    what.append(
        "first crawl: " + ("descending fallback completes" if first.success else "step fails")
    )
    what.append(
        "next run with a refused saved token: "
        + ("newest-first scan down to the high-water mark" if second.success else "fails")
    )
    record(
        "page tokens refused mid-crawl (422 EDI-034)",
        "; ".join(what) + "; after the fault, complete archive",
        " / ".join(r.operator_view() for r in runs[:2]),
        runs=runs,
        state=state,
        extra={"descending_fallback_runs": sum(1 for r in runs if _used_fallback(r))},
    )


def _used_fallback(run) -> bool:
    return any(s.metadata.get("contents", {}).get("descending_fallback") for s in run.summaries)


def test_contents_added_edited_and_deleted_during_the_crawl(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**ACCOUNT, live_rate=20.0)
    env = local_env(sb)
    sources = sb.world.source_ids
    early = sorted(sb.world.content_ids(sources[0]))[:6]

    def mutate() -> None:
        sb.world.edit_content(early[0], body="edited while the crawl runs")
        sb.world.delete_remotely(early[1])
        sb.world.reply(early[2])
        for source_id in sources:
            sb.world.add_content(source_id)

    # Sources are archived one after the other, each with a probe and one page, after the
    # run's one request that checks both sources exist: the fourth contents request is sent
    # only after the first source's page was served, so its original versions are archived
    # before they change (firing on that page's own request, the edit raced it).
    with when_contents_requested(sb, mutate, after=4):
        first = archive(env, **RUN)
    sb.live.stop()  # the end state the last run must capture
    second = archive(env, **RUN)
    state = _readback(env, tmp_path)
    assert first.success, first.errors
    assert second.success, second.errors
    assert_matches_sandbox(sb, state)
    versions_of_early = sum(1 for i, _ in state.versions if i in early[:2])
    assert versions_of_early >= 3  # original + edit/deletion versions kept
    record(
        "contents added, edited, deleted during the crawl (live traffic 20/s)",
        "the crawl archives what it saw; the next run's changes sweep archives every new "
        f"version ({second.contents_metadata('new_versions')} versions, "
        f"{second.contents_metadata('new_records')} new contents)",
        f"{first.operator_view()} / {second.operator_view()}",
        runs=[first, second],
        state=state,
    )


def test_malformed_records_are_quarantined_with_reasons(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**ACCOUNT)
    env = local_env(sb)
    ratio = 0.03
    sb.faults.set("contents", malformed_ratio=ratio)
    run = archive(env, **RUN)
    state = _readback(env, tmp_path)
    assert run.success, run.errors

    broken: set[str] = set()
    for source_id in sb.world.source_ids:
        for content_id in sb.world.content_ids(source_id):
            if sb.faults.is_malformed(sb.world.row_of(content_id), ratio):
                broken.add(content_id)
    assert broken, "the fault broke no record: raise the ratio"
    assert len({r for r in state.quarantine}) >= 1 and len(state.quarantine) >= len(broken)
    assert all(reason for _, reason in state.quarantine)
    assert not any(s.checks.get("contents_schema_valid") for s in run.summaries)
    archived_ids = {i for i, _ in state.versions}
    for source_id in sb.world.source_ids:
        good = sb.world.content_ids(source_id) - broken
        assert good <= archived_ids
    assert state.rows == state.distinct_rows
    assert state.verify_report.ok
    reasons = sorted({reason.split(":", 1)[0] for _, reason in state.quarantine})

    # Once the API serves them correctly, a full re-scan archives the quarantined records.
    sb.faults.clear("contents")
    healed = archive(env, full_refresh=True, **RUN)
    healed_state = _readback(env, tmp_path)
    assert healed.success, healed.errors
    assert_matches_sandbox(sb, healed_state)
    record(
        "malformed API records (3%)",
        f"{len(state.quarantine)} records quarantined with reason and raw JSON, every good "
        "record archived; after the API is fixed, --full-refresh archives them",
        run.operator_view()
        + f"; quarantined={run.contents_metadata('quarantined')}; reasons: "
        + "; ".join(reasons[:3]),
        runs=[run, healed],
        state=healed_state,
        extra={"quarantine_reasons": reasons},
    )


# -- S3 faults -------------------------------------------------------------------------------


@pytest.fixture
def s3_env(s3_server, s3_bucket, tmp_path, monkeypatch):
    """A run into s3://bucket/archive through the fault proxy; reads back directly from S3."""
    with S3FaultProxy(s3_server.endpoint_url, seed=3) as proxy:

        def make(sb) -> tuple[dict[str, str], dict[str, str]]:
            env = {**sb.env, **s3_server.env}
            env["ARCHIVE_URI"] = f"s3://{s3_bucket}/archive"
            env["AUDIT_DB"] = str(tmp_path / "audit.duckdb")
            env["AWS_ENDPOINT_URL"] = proxy.endpoint_url
            apply_env(monkeypatch, env)
            direct = {**env, "AWS_ENDPOINT_URL": s3_server.endpoint_url}
            return env, direct

        yield proxy, make


def test_s3_put_errors_and_connection_resets(sandbox_factory, s3_env, tmp_path):
    proxy, make = s3_env
    sb = sandbox_factory(**S3_ACCOUNT)
    env, direct = make(sb)
    proxy.set(error_ratio=0.2, reset_ratio=0.1)
    run = archive(env, **S3_RUN)
    runs = [run]
    if not run.success:
        assert all(
            "S3Store(" in e or "PutObject" in e or "UploadPart" in e or "Connection" in e
            for e in run.errors
        ), run.errors
        proxy.lift()
        runs.append(archive(env, **S3_RUN))
    assert runs[-1].success, runs[-1].errors
    state = _readback(direct, tmp_path)
    assert_matches_sandbox(sb, state)
    counts = proxy.counts
    assert counts.errors_injected > 0 and counts.resets_injected > 0
    record(
        "S3 PutObject 500/503 and connection reset mid-upload",
        f"botocore retries the put ({counts.errors_injected} 5xx and "
        f"{counts.resets_injected} resets injected in {counts.puts} puts); "
        + ("complete archive in one run" if run.success else "step failed, re-run completes"),
        run.operator_view(),
        runs=runs,
        state=state,
    )


def test_s3_bucket_refusing_writes(sandbox_factory, s3_env, tmp_path):
    proxy, make = s3_env
    sb = sandbox_factory(**S3_ACCOUNT)
    env, direct = make(sb)
    proxy.set(deny_all=True)
    failed = archive(env, **S3_RUN)
    assert not failed.success
    bucket = env["ARCHIVE_URI"].split("/")[2]
    assert len(failed.errors) == len(sb.world.source_ids)  # one per source, each named
    assert all("AccessDenied" in e and f"s3://{bucket}/" in e for e in failed.errors)
    assert failed.seconds < 60, "a permanent store error must not be retried for minutes"
    state = _readback(direct, tmp_path)
    assert state.rows == 0 and state.verify_report.ok

    proxy.lift()
    healed = archive(env, **S3_RUN)
    assert healed.success, healed.errors
    state = _readback(direct, tmp_path)
    assert_matches_sandbox(sb, state)
    record(
        "S3 bucket refuses writes (403 AccessDenied on every PutObject)",
        "step fails at the first write, without retries; nothing committed; re-run after "
        "the policy is fixed completes",
        failed.operator_view(),
        runs=[failed, healed],
        state=state,
    )


# -- local disk faults ------------------------------------------------------------------------


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=False, capture_output=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the disk-full case needs one")
    try:
        yield mount_point
    finally:
        _umount(mount_point)


def test_local_disk_full(sandbox_factory, local_env, small_tmpfs, tmp_path):
    sb = sandbox_factory(**DISK_ACCOUNT)
    env = local_env(sb, small_tmpfs / "archive")
    failed = archive(env, **RUN)
    assert not failed.success
    assert any("ENOSPC" in e and "LocalStore(" in e for e in failed.errors), failed.errors
    assert failed.seconds < 60, "a full disk must not be retried for minutes"
    partial = _readback(env, tmp_path)
    assert partial.verify_report.ok, partial.verify_report.summary()
    assert partial.rows == partial.distinct_rows

    _mount("-o", "remount,size=1g", str(small_tmpfs))
    healed = archive(env, **RUN)
    assert healed.success, healed.errors
    state = _readback(env, tmp_path)
    assert_matches_sandbox(sb, state)
    record(
        "local disk full (2 MB tmpfs)",
        f"step fails on the write that does not fit ({partial.rows} rows committed before it, "
        f"{len(partial.verify_report.of_kind('uncommitted'))} uncommitted files no view reads); "
        "re-run after freeing space completes",
        failed.operator_view(),
        runs=[failed, healed],
        state=state,
    )


def test_local_archive_read_only(sandbox_factory, local_env, tmp_path):
    sb = sandbox_factory(**ACCOUNT)
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    env = local_env(sb, archive_dir)
    # Root ignores chmod 0555, so make the directory read-only the way an operator's mount does.
    _mount("--bind", "-o", "ro", str(archive_dir), str(archive_dir))
    try:
        failed = archive(env, **RUN)
    finally:
        _umount(archive_dir)
    assert not failed.success
    assert any("EROFS" in e and "LocalStore(" in e for e in failed.errors), failed.errors
    assert failed.seconds < 60, "a read-only archive must not be retried for minutes"
    assert not any(archive_dir.iterdir()), "nothing may be written to a read-only archive"
    healed = archive(env, **RUN)
    assert healed.success, healed.errors
    state = _readback(env, tmp_path)
    assert_matches_sandbox(sb, state)
    record(
        "local archive directory read-only (ro bind mount)",
        "step fails at the first write, without retries; nothing written; re-run after "
        "the remount completes",
        failed.operator_view(),
        runs=[failed, healed],
        state=state,
    )
