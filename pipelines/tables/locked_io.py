"""pyiceberg's file IO for an Object Lock archive: table metadata written like archive objects.

pyiceberg writes a table's metadata JSON, manifest lists and manifests with its own S3 client,
which sends no Object Lock headers: on a COMPLIANCE bucket without a default retention those
objects would be the only unlocked ones in the archive (invariant 2). This file IO reads like
pyiceberg's pyarrow one and writes every new object through the archive's S3 store instead:
write-once (`If-None-Match: *`), with its SHA-256, and with the archive's Object Lock mode,
retention (days, or the retention class of ARCHIVE_RETENTION_CLASSES) and legal hold.
`tables_config` selects it when the archive store locks objects.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from pyiceberg.io import InputFile, OutputFile, OutputStream
from pyiceberg.io.pyarrow import PyArrowFileIO

LOCK_MODE = "rc-archive.object-lock-mode"
RETENTION_DAYS = "rc-archive.retention-days"
RETENTION_CLASSES = "rc-archive.retention-classes"
LEGAL_HOLD = "rc-archive.legal-hold"
# The retry budget of the archive's S3 client (its timeouts are pyarrow's `s3.connect-timeout`
# and `s3.request-timeout`): pyiceberg builds this file IO from its properties alone.
RETRY_BUDGET = "rc-archive.retry-budget"
IMPL = "pipelines.tables.locked_io.LockedArchiveFileIO"


class _PutOnClose(io.BytesIO):
    """The object's bytes, stored once when pyiceberg closes the stream."""

    def __init__(self, store_bytes: Callable[[bytes], None]) -> None:
        super().__init__()
        self._store_bytes = store_bytes
        self._stored = False

    def close(self) -> None:
        if not self._stored and not self.closed:
            self._stored = True
            self._store_bytes(self.getvalue())
        super().close()


class _LockedOutputFile(OutputFile):
    def __init__(self, location: str, file_io: LockedArchiveFileIO) -> None:
        super().__init__(location)
        self._io = file_io

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> InputFile:
        return self._io.new_input(self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        del overwrite  # archive objects are write-once: the store refuses an existing key
        return _PutOnClose(lambda data: self._io.put_locked(self.location, data))


class LockedArchiveFileIO(PyArrowFileIO):
    """PyArrowFileIO whose writes to s3:// go through the archive's S3 store."""

    def new_output(self, location: str) -> OutputFile:
        if self.properties.get(LOCK_MODE) and location.startswith("s3://"):
            return _LockedOutputFile(location, self)
        return super().new_output(location)

    def put_locked(self, location: str, data: bytes) -> None:
        bucket, _, key = location[len("s3://") :].partition("/")
        kind = "application/json" if key.endswith(".json") else "application/octet-stream"
        self._store_of(bucket).put(key, data, content_type=kind)

    def _store_of(self, bucket: str):
        """One locking store (and S3 client) per bucket for this file IO's life: a refresh
        writes a metadata file, a manifest list and manifests per table."""
        stores = self.__dict__.setdefault("_locked_stores", {})
        if bucket not in stores:
            stores[bucket] = self._new_store(bucket)
        return stores[bucket]

    def _new_store(self, bucket: str):
        from pipelines.archive.store import S3Store, aws_client
        from pipelines.governance.retention import load_retention
        from pipelines.settings import NetworkTimeouts, S3Access

        props = self.properties
        access = S3Access(
            endpoint_url=props.get("s3.endpoint") or None,
            region=props.get("s3.region") or None,
            access_key_id=props.get("s3.access-key-id") or None,
            secret_access_key=props.get("s3.secret-access-key") or None,
            session_token=props.get("s3.session-token") or None,
        )
        # The archive's client settings: timeouts and the retry budget (docs/deploy.md).
        defaults = NetworkTimeouts()
        timeouts = NetworkTimeouts(
            connect=float(props.get("s3.connect-timeout") or defaults.connect),
            read=float(props.get("s3.request-timeout") or defaults.read),
            budget=float(props.get(RETRY_BUDGET) or defaults.budget),
        )
        client = aws_client("s3", access, timeouts)
        classes = props.get(RETENTION_CLASSES)
        return S3Store(
            bucket,
            "",
            client,
            object_lock_mode=props[LOCK_MODE],
            retention_days=int(props.get(RETENTION_DAYS) or 1),
            legal_hold=props.get(LEGAL_HOLD) == "true",
            retention=load_retention(classes) if classes else None,
        )
