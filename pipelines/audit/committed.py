"""What is committed in an archive: the manifests under `_ledger/`, and the files they list.

The manifests are the commit points (docs/internals.md, "Archive layout"): a data file that no
manifest lists is an interrupted write or a stranger, and an auditor must never see it. So the
catalog takes its file lists from here, never from a directory listing or a glob.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

LEDGER_PREFIX = "_ledger/"
MANIFEST_FORMAT = "rc-archive/manifest/1"


class ArchiveReader(Protocol):
    """The read side of an archive root: enough to find manifests and name files for DuckDB."""

    root_uri: str

    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def read_bytes(self, key: str) -> bytes: ...

    def uri_of(self, key: str) -> str: ...


@dataclass(frozen=True)
class CommittedManifest:
    """One manifest as committed, with the SHA-256 of its bytes (the next one chains to it)."""

    key: str
    manifest_sha256: str
    body: Mapping[str, Any]

    @property
    def files(self) -> list[Mapping[str, Any]]:
        return list(self.body.get("files") or [])


class LocalArchiveReader:
    """An archive in a local directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root_uri = str(self.root)

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file():
                yield path.relative_to(self.root).as_posix()

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def uri_of(self, key: str) -> str:
        return str(self.root / key)


class S3ArchiveReader:
    """An archive under `s3://bucket/prefix`, read with boto3 (endpoint from AWS_ENDPOINT_URL)."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        import boto3  # imported here: local archives never pay for it

        parsed = urlparse(uri)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.root_uri = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._client = boto3.client(
            "s3",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        )

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def read_bytes(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def uri_of(self, key: str) -> str:
        return f"{self.root_uri}/{key}"


def open_reader(store_or_uri: Any, env: Mapping[str, str]) -> ArchiveReader:
    """A reader for an archive given as a URI/path or as an already opened reader."""
    if hasattr(store_or_uri, "list_keys") and hasattr(store_or_uri, "uri_of"):
        return store_or_uri
    uri = os.fspath(store_or_uri)
    if uri.startswith("s3://"):
        return S3ArchiveReader(uri, env)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"ARCHIVE_URI {uri!r} is neither a local directory nor s3://bucket/prefix")
    return LocalArchiveReader(uri.removeprefix("file://"))


def is_manifest_key(key: str) -> bool:
    """`_ledger/<table>/<stream>/<seq:010d>.json`; intents under `_pending/` are not commits."""
    parts = key.split("/")
    return (
        len(parts) == 4
        and parts[0] == "_ledger"
        and parts[3].endswith(".json")
        and parts[3][:-5].isdigit()
    )


def read_committed_manifests(reader: ArchiveReader) -> list[CommittedManifest]:
    """Every committed manifest, in (table, stream, seq) order."""
    manifests = []
    for key in reader.list_keys(LEDGER_PREFIX):
        if not is_manifest_key(key):
            continue
        raw = reader.read_bytes(key)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ValueError(
                f"manifest {reader.uri_of(key)} is not valid JSON ({exc}); "
                "run `rc-archive verify` to check the ledger"
            ) from None
        if body.get("format") != MANIFEST_FORMAT:
            raise ValueError(
                f"manifest {reader.uri_of(key)} has format {body.get('format')!r}, "
                f"expected {MANIFEST_FORMAT!r}"
            )
        manifests.append(CommittedManifest(key, hashlib.sha256(raw).hexdigest(), body))
    manifests.sort(key=lambda m: (m.body.get("table"), m.body.get("stream"), m.body.get("seq")))
    return manifests


def committed_files_by_table(manifests: list[CommittedManifest]) -> dict[str, list[str]]:
    """Table name -> committed data keys (a manifest may list files of several tables)."""
    files: dict[str, list[str]] = {}
    seen: set[str] = set()
    for manifest in manifests:
        for entry in manifest.files:
            if entry["key"] in seen:
                continue
            seen.add(entry["key"])
            table = entry.get("table") or manifest.body.get("table")
            files.setdefault(table, []).append(entry["key"])
    return files
