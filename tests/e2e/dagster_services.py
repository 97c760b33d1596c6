"""Dagster's services as separate processes for the end-to-end tests (webserver, daemon, a gRPC
code server), and the GraphQL calls the UI makes: add a partition, launch a backfill, follow
it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

LOCATION = "assets.code_location"
REPOSITORY = "__repository__"
REPO_SELECTOR = '{repositoryLocationName: "' + LOCATION + '", repositoryName: "' + REPOSITORY + '"}'
BIN = os.path.dirname(sys.executable)

ADD_PARTITION = """
mutation($key: String!) {
  addDynamicPartition(
    repositorySelector: REPO,
    partitionsDefName: "sources", partitionKey: $key
  ) { __typename ... on PythonError { message } ... on UnauthorizedError { message } }
}""".replace("REPO", REPO_SELECTOR)

LAUNCH_BACKFILL = """
mutation($keys: [String!]!) {
  launchPartitionBackfill(backfillParams: {
    selector: {
      partitionSetName: "archive_sources_partition_set",
      repositorySelector: REPO
    },
    partitionNames: $keys
  }) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}""".replace("REPO", REPO_SELECTOR)

LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } }
} } } }"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 100) { runId status startTime endTime } }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def migrate_instance(env: dict[str, str]) -> None:
    """Create the instance's storage once before the services start (README): started together
    on an empty DAGSTER_HOME, each would create the schema (dagster-io/dagster#27390)."""
    migrated = subprocess.run(
        [f"{BIN}/dagster", "instance", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr


@contextmanager
def services(commands: Sequence[Sequence[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    """Start each command as its own process group (output to `logs`/<n>.log); stop them all
    (SIGTERM, then SIGKILL) when the block ends."""
    logs.mkdir(parents=True, exist_ok=True)
    children = []
    try:
        for number, command in enumerate(commands):
            log = open(logs / f"{number}-{Path(command[0]).name}.log", "wb")  # noqa: SIM115
            children.append(
                (
                    subprocess.Popen(
                        list(command),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    ),
                    log,
                )
            )
        yield
    finally:
        for child, _ in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child, log in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
            log.close()


def wait_for_code_server(port: int, env: dict[str, str], timeout: float = 120) -> None:
    """Until the gRPC code server answers its health check: a webserver started before it
    records the location as unreachable."""
    deadline = time.monotonic() + timeout
    while True:
        check = subprocess.run(
            [f"{BIN}/dagster", "api", "grpc-health-check", "-p", str(port), "-h", "127.0.0.1"],
            env=env,
            capture_output=True,
        )
        if check.returncode == 0:
            return
        assert time.monotonic() < deadline, "the code server did not start"
        time.sleep(1)


def wait_for_location(port: int, timeout: float = 120) -> str:
    """The webserver's GraphQL URL once it answers and the code location loaded."""
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).is_success:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "webserver did not start"
        time.sleep(1)
    # The server answers before the code location is loaded; wait for it, as the UI does.
    while True:
        entries = graphql(url, LOCATIONS, {})["workspaceOrError"]["locationEntries"]
        loaded = [e for e in entries if e["name"] == LOCATION and e["loadStatus"] == "LOADED"]
        if loaded:
            # LOADED also means "gave up": the load error is then the whole story.
            location = loaded[0]["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location
            return url
        assert time.monotonic() < deadline, f"code location did not load: {entries}"
        time.sleep(1)


def _add_partition(url: str, key: str) -> dict:
    """Add one partition as the UI's button does. The discovery sensor adds the same keys on its
    first tick: when both insert at the same moment, the losing insert's unique-key error is
    answered with a 500 (seen in CI: the sensor's "Added partition keys" and the 500 in the same
    second). Asked again, the server answers DuplicateDynamicPartitionError, as the UI would
    show."""
    try:
        return graphql(url, ADD_PARTITION, {"key": key})
    except httpx.HTTPStatusError as error:
        if error.response.status_code < 500:
            raise
        time.sleep(1)
        return graphql(url, ADD_PARTITION, {"key": key})


def backfill_sources(url: str, sources: Sequence[str], timeout: float = 420) -> list[dict]:
    """Add the sources as partitions and backfill them, as the UI does; the runs, once all
    finished."""
    for key in sources:
        result = _add_partition(url, key)
        # The discovery sensor (running by default) may have added the source already.
        assert result["addDynamicPartition"]["__typename"] in (
            "AddDynamicPartitionSuccess",
            "DuplicateDynamicPartitionError",
        )
    launched = graphql(url, LAUNCH_BACKFILL, {"keys": list(sources)})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + timeout
    while True:
        backfill = graphql(url, BACKFILL_STATUS, {"id": launched["backfillId"]})[
            "partitionBackfillOrError"
        ]
        runs = backfill["runs"]
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        if len(runs) == len(sources) and len(done) == len(sources):
            return runs
        assert time.monotonic() < deadline, f"backfill did not finish: {backfill}"
        time.sleep(3)
