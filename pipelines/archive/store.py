"""Write-once object stores: a local directory and S3 (or any S3-compatible server).

Invariant 2 (docs/internals.md, "Invariants"): the archive never overwrites or deletes an
object. Both stores refuse a `put` to an existing key (ObjectExistsError). On S3 the refusal is
enforced by the server too (`If-None-Match: *`), and Object Lock retention/legal hold make the
objects immutable for the regulator's retention period (SEC 17a-4(f)). The one delete is
`dispose`, called only by disposition after retention (pipelines/governance/disposition.py),
after a disposition manifest recorded what it deletes; the server still refuses it for an
object whose retention date or legal hold has not ended.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

from pipelines import settings
from pipelines.archive import keys
from pipelines.settings import SettingError
from schemas.common import years_after


class ObjectExistsError(FileExistsError):
    """The key is already written; the archive never overwrites."""

    @classmethod
    def at(cls, uri: str, why: str = "archive objects are write-once") -> ObjectExistsError:
        return cls(f"{uri} already exists; {why}")


class StoreConfigError(SettingError):
    """A store setting is invalid; the message names the variable to fix."""


class StoreWriteError(OSError):
    """A write the store refused or could not finish; the message names the object and the fix.

    `needs_person` is True when retrying cannot help (a full or read-only disk, a denied
    permission, a missing bucket): the run then fails once, at once, instead of being retried
    for minutes. Nothing is committed by a failed write (the manifest comes last), so the next
    run after the fix simply carries on.
    """

    def __init__(self, message: str, *, needs_person: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.needs_person = needs_person
        self.code = code


# Big objects (attachment files) are streamed a chunk at a time, never held whole in memory.
STREAM_CHUNK = 1 << 20
# S3: files above this go up as a multipart upload of parts this big, each with its checksum.
MULTIPART_PART = 16 << 20

# Tries per S3 request (botocore "standard" retry mode: 5xx, throttling, connection errors).
S3_MAX_ATTEMPTS = 8
# Disk problems a retry cannot fix: full, over quota, read-only, not permitted, and a path that
# runs through (ENOTDIR) or ends at (EISDIR) the wrong kind of file, as when ARCHIVE_URI names
# a regular file: retrying these only spent the asset retry policy's minutes.
_PERMANENT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}
# S3 answers a retry cannot fix (botocore has already retried throttling and 5xx).
_PERMANENT_S3_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "InvalidBucketName",
    "AccountProblem",
}


@dataclass(frozen=True)
class PutResult:
    key: str
    sha256: str
    bytes: int


@runtime_checkable
class ObjectStore(Protocol):
    """What the ledger needs from storage: write-once put, get, list, head. No delete.

    Both stores also have `put_file(key, path, *, content_type)` and `open(key)`, which
    stream big objects (attachment files); they are not part of this protocol, so a wrapper
    of the ledger's needs does not have to implement them."""

    def put(self, key: str, data: bytes, *, content_type: str) -> PutResult: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def list_after(self, prefix: str, start_after: str | None = None) -> list[str]: ...
    def list_folders(self, prefix: str) -> list[str]: ...
    def head(self, key: str) -> dict[str, Any]: ...
    def uri_for(self, key: str) -> str: ...
    def describe(self) -> str: ...


class RetentionClasses(Protocol):
    """Years of retention per source (pipelines/governance/retention.py, RetentionPolicy)."""

    def years_for(self, source_id: str, source_type: str | None) -> int: ...

    def longest_years(self) -> int: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}: must be relative, without '.', '..' or '//'")
    return key


class LocalStore:
    """A directory. Each put writes a temp file in the target directory, fsyncs it, hard-links
    it to the final name (link fails if the name exists: atomic write-once), fsyncs the
    directory and makes the file read-only."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, *, content_type: str) -> PutResult:
        del content_type  # a file system has no content type; kept for the S3 contract
        try:
            return self._put_new_file(key, data)
        except ObjectExistsError:
            raise
        except OSError as exc:
            raise self._write_error(key, exc) from exc

    def put_file(self, key: str, path: str | os.PathLike[str], *, content_type: str) -> PutResult:
        """Write-once copy of a local file, streamed (temp file, fsync, link, like `put`)."""
        del content_type
        try:
            return self._put_new_file(key, None, source=Path(path))
        except ObjectExistsError:
            raise
        except OSError as exc:
            raise self._write_error(key, exc) from exc

    def _write_error(self, key: str, exc: OSError) -> StoreWriteError:
        name = errno.errorcode.get(exc.errno or 0, "error")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "the file system is full: free space or point ARCHIVE_URI at a larger disk"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = "the directory is not writable: remount it read-write or fix its permissions"
        elif exc.errno in (errno.ENOTDIR, errno.EISDIR):
            fix = (
                "part of the path is a file, not a directory: point "
                f"{settings.ARCHIVE_URI} at a directory"
            )
        else:
            fix = "check the disk holding the archive"
        return StoreWriteError(
            f"{self.describe()} could not write {key}: {exc.strerror or exc} ({name}); {fix} "
            f"({settings.ARCHIVE_URI}={self.root}). Nothing of this batch was committed.",
            needs_person=exc.errno in _PERMANENT_ERRNOS,
            code=name,
        )

    def _put_new_file(self, key: str, data: bytes | None, source: Path | None = None) -> PutResult:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise ObjectExistsError.at(self.uri_for(key))
        fd, temp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-", suffix=".part")
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as handle:
                if data is not None:
                    handle.write(data)
                    digest.update(data)
                    size = len(data)
                else:
                    with open(source, "rb") as reader:  # type: ignore[arg-type]
                        while chunk := reader.read(STREAM_CHUNK):
                            handle.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_name, 0o444)
            try:
                os.link(temp_name, final)
            except FileExistsError:
                raise ObjectExistsError.at(self.uri_for(key)) from None
        finally:
            os.unlink(temp_name)  # the temp name only; the linked final file stays
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return PutResult(key=key, sha256=digest.hexdigest(), bytes=size)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open(self, key: str):
        """A binary file object of the object's bytes, for reading big objects in chunks."""
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return iter(())
        # Walk only the directory the prefix names, so a ledger head lists one stream.
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return iter(())
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def list_after(self, prefix: str, start_after: str | None = None) -> list[str]:
        """Keys directly under `prefix` (a folder ending in "/"; sub-folders are not walked)
        that sort after `start_after`, sorted.

        Why: a ledger head or a catalog refresh needs only the manifests committed after the
        last one it knows. Locally that is one directory read, without opening a file."""
        base = self.root / prefix
        try:
            names = [entry.name for entry in os.scandir(base) if entry.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = (prefix + name for name in names if not name.startswith(".tmp-"))
        return sorted(key for key in found if start_after is None or key > start_after)

    def list_folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` (e.g. a ledger's streams)."""
        try:
            return sorted(entry.name for entry in os.scandir(self.root / prefix) if entry.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """A directory cannot lock a file: nothing is enforced, so this only checks that the
        object exists and returns False ("not applied by the store"). The hold itself is the
        write-once record under `_holds/` (pipelines/governance/holds.py), which says so, and
        the files stay read-only (0444) and are never deleted by the archive anyway."""
        del on
        if not self._path(key).is_file():
            raise FileNotFoundError(f"{self.uri_for(key)}: no such archived object to hold")
        return False

    def lock_of(self, key: str) -> str | None:
        """A directory locks nothing: None (what would stop a delete now)."""
        del key
        return None

    def dispose(self, key: str) -> None:
        """Delete one object past retention (disposition only; gone already is fine, so an
        interrupted disposition can be finished)."""
        path = self._path(key)
        path.unlink(missing_ok=True)

    def head(self, key: str) -> dict[str, Any]:
        stat = self._path(key).stat()
        return {"key": key, "bytes": stat.st_size, "mode": oct(stat.st_mode & 0o777)}

    def uri_for(self, key: str) -> str:
        return str(self._path(key))

    def describe(self) -> str:
        return f"LocalStore({self.root})"

    def __repr__(self) -> str:
        return self.describe()


class S3Store:
    """An S3 bucket/prefix. Puts carry a SHA-256 checksum (the server rejects corrupted bodies),
    `If-None-Match: *` (the server refuses an existing key even under a race) and, when set,
    Object Lock retention and legal hold. DeleteObject is sent only by `dispose`."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any,
        *,
        object_lock_mode: str | None = None,
        retention_days: int | None = None,
        legal_hold: bool = False,
        retention: RetentionClasses | None = None,
    ) -> None:
        if object_lock_mode not in (None, "GOVERNANCE", "COMPLIANCE"):
            raise StoreConfigError(
                f"{settings.ARCHIVE_OBJECT_LOCK_MODE}={object_lock_mode!r}: expected "
                "GOVERNANCE, COMPLIANCE or unset"
            )
        if (object_lock_mode is None) != (retention_days is None):
            raise StoreConfigError(
                f"set both {settings.ARCHIVE_OBJECT_LOCK_MODE} and "
                f"{settings.ARCHIVE_RETENTION_DAYS} (retention needs a mode and a period), "
                f"got mode={object_lock_mode!r} days={retention_days!r}"
            )
        if retention_days is not None and retention_days <= 0:
            raise StoreConfigError(
                f"{settings.ARCHIVE_RETENTION_DAYS}={retention_days}: expected a positive number"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client
        self.object_lock_mode = object_lock_mode
        self.retention_days = retention_days
        self.legal_hold = legal_hold
        # Years per source and channel type (ARCHIVE_RETENTION_CLASSES), or None.
        self.retention = retention

    def _full(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def retain_until(self, key: str, source_type: str | None = None) -> datetime | None:
        """The Object Lock retain-until date of a new object (None without a lock mode): the
        retention days from now, or the end of the retention class of the key's source (by
        its channel type when the writer knows it) when that is later. Classes are applied
        at write time because COMPLIANCE retention can be lengthened later, never shortened."""
        if self.object_lock_mode is None:
            return None
        now = datetime.now(UTC)
        until = now + timedelta(days=self.retention_days or 0)
        if self.retention is not None:
            if key.startswith(keys.LEDGER_ROOT + "/"):
                # The ledger outlives every file it names: the longest class.
                years = self.retention.longest_years()
            else:
                # An object of no one source (agents, attachment bytes): the default class.
                source_id = keys.source_id_of_key(key) or ""
                years = self.retention.years_for(source_id, source_type)
            until = max(until, years_after(now, years))
        return until

    def put(
        self, key: str, data: bytes, *, content_type: str, retain_until: datetime | None = None
    ) -> PutResult:
        full_key = self._full(key)
        # Ask first, so an existing key is refused without even sending a PutObject; the
        # If-None-Match condition below still closes the race with a concurrent writer.
        if self.exists(key):
            raise ObjectExistsError.at(self.uri_for(key))
        digest = hashlib.sha256(data).digest()
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full_key,
            "Body": data,
            "ContentType": content_type,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(digest).decode("ascii"),
            "IfNoneMatch": "*",
        }
        request.update(self._lock_args(key, retain_until))
        try:
            self.client.put_object(**request)
        except self.client.exceptions.ClientError as exc:
            self._raise_refused_put(key, exc)
        self._check_written(key, len(data), digest)
        return PutResult(key=key, sha256=digest.hex(), bytes=len(data))

    def _lock_args(self, key: str, retain_until: datetime | None) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.object_lock_mode is not None:
            extra["ObjectLockMode"] = self.object_lock_mode
            extra["ObjectLockRetainUntilDate"] = retain_until or self.retain_until(key)
        if self.legal_hold:
            extra["ObjectLockLegalHoldStatus"] = "ON"
        return extra

    def put_file(self, key: str, path: str | os.PathLike[str], *, content_type: str) -> PutResult:
        """Write-once upload of a local file, streamed: a single PutObject with its SHA-256 up
        to MULTIPART_PART, else a multipart upload whose every part carries its SHA-256 and
        whose completion is conditional (`If-None-Match: *`). Memory: one part at a time."""
        size = os.path.getsize(path)
        if size <= MULTIPART_PART:
            with open(path, "rb") as handle:
                return self.put(key, handle.read(), content_type=content_type)
        if self.exists(key):
            raise ObjectExistsError.at(self.uri_for(key))
        full_key = self._full(key)
        whole = hashlib.sha256()
        upload_id = None
        part_digests: list[bytes] = []
        try:
            upload = self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full_key,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                **self._lock_args(key, None),
            )
            upload_id = upload["UploadId"]
            parts = []
            with open(path, "rb") as handle:
                number = 1
                while chunk := handle.read(MULTIPART_PART):
                    whole.update(chunk)
                    part_digests.append(hashlib.sha256(chunk).digest())
                    checksum = base64.b64encode(part_digests[-1]).decode("ascii")
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full_key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum,
                    )
                    parts.append(
                        {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
                    )
                    number += 1
                    del chunk
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException as exc:
            # An unfinished multipart upload is never visible as an object; aborting it frees
            # its parts now instead of at the bucket's lifecycle rule (a kill -9 leaves that
            # to the rule, docs/deploy.md).
            if upload_id is not None:
                self._abort_upload(full_key, upload_id)
            if not isinstance(exc, self.client.exceptions.ClientError):
                raise
            self._raise_refused_put(key, exc)
        self._check_written(key, size, whole.digest(), part_digests)
        return PutResult(key=key, sha256=whole.hexdigest(), bytes=size)

    def _abort_upload(self, full_key: str, upload_id: str) -> None:
        """Best effort: a failed abort leaves parts for the lifecycle rule, never an object."""
        with contextlib.suppress(Exception):  # the upload's own error is the one to report
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)

    def open(self, key: str):
        """A streaming body of the object's bytes (read it in chunks)."""
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]

    def _raise_refused_put(self, key: str, exc: Exception) -> NoReturn:
        """What the server's refusal of a PutObject (or of a multipart completion) means:
        ObjectExistsError when it refused If-None-Match (another writer put the key first),
        else StoreWriteError naming the fix. Raise it from inside the `except`."""
        error = getattr(exc, "response", {}).get("Error", {})
        code = error.get("Code", "")
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
            raise ObjectExistsError.at(
                self.uri_for(key), "the server refused If-None-Match"
            ) from None
        message = error.get("Message", "")
        permanent = code in _PERMANENT_S3_CODES or status in (401, 403, 404)
        if code == "AccessDenied" or status == 403:
            fix = (
                f"the credentials ({settings.AWS_ACCESS_KEY_ID}) lack s3:PutObject on bucket "
                f"{self.bucket!r}, or a bucket policy denies writes"
            )
        elif code == "NoSuchBucket":
            fix = f"bucket {self.bucket!r} does not exist: check {settings.ARCHIVE_URI}"
        else:
            fix = "the S3 endpoint kept failing after botocore's retries; the run can be retried"
        raise StoreWriteError(
            f"{self.describe()} refused PutObject {self.uri_for(key)}: {code or 'error'} "
            f"(HTTP {status}) {message}; {fix}. Nothing of this batch was committed.",
            needs_person=permanent,
            code=code or None,
        ) from exc

    def _check_written(
        self, key: str, size: int, digest: bytes, part_digests: list[bytes] | None = None
    ) -> None:
        """The stored size and SHA-256 against what was sent. A multipart object's checksum
        is S3's composite (SHA-256 of the parts' SHA-256s, shown as `<base64>-<parts>`),
        so with `part_digests` either that or the whole object's digest must match."""
        head = self.client.head_object(
            Bucket=self.bucket, Key=self._full(key), ChecksumMode="ENABLED"
        )
        if head.get("ContentLength") != size:
            raise OSError(
                f"{self.uri_for(key)}: stored {head.get('ContentLength')} bytes, sent {size}"
            )
        checksum = head.get("ChecksumSHA256")
        if not checksum:
            return
        stored = base64.b64decode(checksum.split("-", 1)[0])
        accepted = {digest}
        if part_digests:
            accepted.add(hashlib.sha256(b"".join(part_digests)).digest())
        if stored not in accepted:
            raise OSError(f"{self.uri_for(key)}: stored SHA-256 differs from the bytes sent")

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                keys.append(item["Key"][len(self.prefix) :])
        return iter(sorted(keys))

    def list_after(self, prefix: str, start_after: str | None = None) -> list[str]:
        """Keys directly under `prefix` that sort after `start_after`, sorted.

        ListObjectsV2 with a delimiter (sub-folders such as a ledger's `_pending/` are not
        listed) and StartAfter: a refresh after K new manifests costs one LIST per 1,000 of
        them, whatever the number of manifests before."""
        options: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self.prefix + prefix,
            "Delimiter": "/",
        }
        if start_after is not None:
            options["StartAfter"] = self.prefix + start_after
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(**options):
            for item in page.get("Contents", []):
                found.append(item["Key"][len(self.prefix) :])
        return sorted(found)

    def list_folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` (CommonPrefixes of a delimited LIST)."""
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix, Delimiter="/"
        ):
            for item in page.get("CommonPrefixes", []):
                found.append(item["Prefix"][len(self.prefix + prefix) :].rstrip("/"))
        return sorted(found)

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Turn the Object Lock legal hold of an existing object ON or OFF (PutObjectLegalHold;
        the bucket must have Object Lock enabled). A legal hold keeps the object from deletion
        whatever its retention date, until released. Returns True (applied by the store)."""
        try:
            self.client.put_object_legal_hold(
                Bucket=self.bucket,
                Key=self._full(key),
                LegalHold={"Status": "ON" if on else "OFF"},
            )
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "InvalidRequest" or "object lock" in message.lower():
                fix = f"bucket {self.bucket!r} has no Object Lock: legal holds need it"
            elif code == "AccessDenied" or status == 403:
                fix = "the credentials lack s3:PutObjectLegalHold"
            else:
                fix = "check the S3 endpoint and retry"
            raise StoreWriteError(
                f"{self.describe()} refused PutObjectLegalHold {self.uri_for(key)}: "
                f"{code or 'error'} (HTTP {status}) {message}; {fix}",
                needs_person=code in _PERMANENT_S3_CODES
                or code == "InvalidRequest"
                or status in (400, 401, 403, 404),
                code=code or None,
            ) from exc
        return True

    def lock_of(self, key: str) -> str | None:
        """What would make the server refuse to delete the object now: its legal hold, or a
        retention date still ahead (None when nothing does)."""
        head = self.head(key)
        if head["object_lock_legal_hold"] == "ON":
            return "Object Lock legal hold ON"
        until = head["object_lock_retain_until"]
        if until is not None and until > datetime.now(UTC):
            return f"Object Lock {head['object_lock_mode']} retention until {until:%Y-%m-%d}"
        return None

    def dispose(self, key: str) -> None:
        """Delete one object past retention, for disposition only: its version, because on a
        versioned (Object Lock) bucket a plain delete only adds a delete marker and keeps the
        bytes. The server refuses while a retention date or a legal hold locks the version
        (in COMPLIANCE mode nobody can shorten it): StoreWriteError. Gone already is fine, so
        an interrupted disposition can be finished."""
        full_key = self._full(key)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return
            raise
        request = {"Bucket": self.bucket, "Key": full_key}
        version = head.get("VersionId")
        if version and version != "null":
            request["VersionId"] = version
        try:
            self.client.delete_object(**request)
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise StoreWriteError(
                f"{self.describe()} refused to delete {self.uri_for(key)} (version {version}): "
                f"{code or 'error'} (HTTP {status}); Object Lock keeps it until its retention "
                "date passes and its legal hold is released, or the credentials lack "
                "s3:DeleteObjectVersion",
                needs_person=True,
                code=code or None,
            ) from exc

    def head(self, key: str) -> dict[str, Any]:
        head = self.client.head_object(
            Bucket=self.bucket, Key=self._full(key), ChecksumMode="ENABLED"
        )
        return {
            "key": key,
            "bytes": head.get("ContentLength"),
            "checksum_sha256": head.get("ChecksumSHA256"),
            "object_lock_mode": head.get("ObjectLockMode"),
            "object_lock_retain_until": head.get("ObjectLockRetainUntilDate"),
            "object_lock_legal_hold": head.get("ObjectLockLegalHoldStatus"),
            "version_id": head.get("VersionId"),
        }

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def describe(self) -> str:
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        lock = (
            f", lock={self.object_lock_mode} {self.retention_days}d"
            if self.object_lock_mode
            else ""
        )
        hold = ", legal_hold=ON" if self.legal_hold else ""
        return f"S3Store(s3://{self.bucket}/{self.prefix}, endpoint={endpoint}{lock}{hold})"

    def __repr__(self) -> str:
        return self.describe()


def open_store(
    uri: str | None,
    archive_settings: settings.Settings,
    *,
    retention: RetentionClasses | None = None,
) -> ObjectStore:
    """`s3://bucket/prefix` -> S3Store, else a LocalStore (`uri` None: ARCHIVE_URI of
    `archive_settings`, else ./archive).

    An S3 store's client is built with `archive_settings.s3` (endpoint, region, keys) and
    `.network` (timeouts), and its Object Lock settings are `.object_lock_mode`,
    `.retention_days` and `.legal_hold`, parsed once by `Settings.from_env`; they apply to S3
    only (a directory cannot lock files). `retention` (the retention classes, parsed by
    governance: `governance.retention.open_governed_store`) comes from the caller, because
    governance reads the archive and not the other way round.
    """
    uri = uri or archive_settings.archive_location
    if not uri.startswith("s3://"):
        return LocalStore(uri)
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StoreConfigError(f"{settings.ARCHIVE_URI}={uri!r}: expected s3://bucket/prefix")
    mode = archive_settings.object_lock_mode
    return S3Store(
        bucket,
        prefix,
        aws_client("s3", archive_settings.s3, archive_settings.network),
        object_lock_mode=mode,
        retention_days=archive_settings.retention_days or None,
        legal_hold=archive_settings.legal_hold,
        retention=retention if mode is not None else None,
    )


# -- AWS clients: timeouts, the retry budget, and network failures in one line ---------------

# Set on a request's botocore context when it is first sent (the retry budget counts from it).
_STARTED = "rc_archive_started"


def aws_client(
    service: str,
    s3: settings.S3Access,
    timeouts: settings.NetworkTimeouts,
    *,
    max_attempts: int = S3_MAX_ATTEMPTS,
) -> Any:
    """A boto3 client (`s3`, `glue`) with the project's network timeouts: every boto3 client of
    rc-archive is made here (the archive and the witness through `open_store`, the CLI's probe,
    Iceberg's locked file IO and the Glue catalog).

    Connect and read timeouts are `timeouts` (RC_ARCHIVE_CONNECT_TIMEOUT and
    RC_ARCHIVE_READ_TIMEOUT; pipelines/settings.py), instead of botocore's 60 s each. Retries
    are botocore's "standard" mode, `max_attempts` tries: botocore's default of 3 fails a run on
    a few 5xx/resets in a row, and a run writes hundreds of objects; 4xx answers are never
    retried, so this only buys time on transient faults (measured in
    tests/e2e/test_fault_matrix.py). A retry after a network failure (no answer: a timeout, a
    refused or dropped connection) starts only when it would end within RC_ARCHIVE_RETRY_BUDGET
    even if it ran into both timeouts, so an endpoint that accepts connections and never answers
    costs one request about two read timeouts, not 8 x 60 s.

    Endpoint, region and keys: those of `s3` (AWS_ENDPOINT_URL, AWS_REGION or
    AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else
    boto3's own credential chain."""
    import boto3  # imported here: a local archive needs no AWS SDK start-up
    from botocore.config import Config

    client = boto3.client(
        service,
        config=Config(
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            retries={"mode": "standard", "max_attempts": max_attempts},
        ),
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        aws_session_token=s3.session_token,
    )
    _bound_network_retries(client, timeouts)
    return client


def _bound_network_retries(client: Any, timeouts: settings.NetworkTimeouts) -> None:
    """Stop botocore retrying a network failure once another try could end after the budget.

    botocore asks its `needs-retry` handlers in order and takes the first answer that is not
    None; False means "do not retry". This handler, registered first, answers False for a
    request that failed without an answer when `NetworkTimeouts.may_retry` says no, and None
    (botocore decides, as before) otherwise: answers such as 5xx and throttling keep their
    `max_attempts` tries."""
    from botocore.exceptions import ConnectionError as NoConnection
    from botocore.exceptions import HTTPClientError

    def started(context: dict[str, Any] | None = None, **_: Any) -> None:
        if context is not None:
            context.setdefault(_STARTED, time.monotonic())

    def give_up(
        attempts: int = 1,
        caught_exception: BaseException | None = None,
        request_dict: dict[str, Any] | None = None,
        **_: Any,
    ) -> bool | None:
        if not isinstance(caught_exception, NoConnection | HTTPClientError):
            return None
        context = (request_dict or {}).get("context") or {}
        elapsed = time.monotonic() - context.get(_STARTED, time.monotonic())
        # botocore's standard backoff for errors that are not throttling: rand * 50 ms * 2^n.
        wait = min(20.0, 0.05 * 2 ** (attempts - 1))
        return None if timeouts.may_retry(elapsed, wait) else False

    # On the service's own event: botocore calls a more specific event's handlers first.
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"before-call.{service}", started)
    client.meta.events.register_first(f"needs-retry.{service}", give_up)


# Phrases of DuckDB httpfs (curl) errors that mean no answer came: refused, unresolvable,
# timed out, dropped. Matched in an IOException's message.
_DUCKDB_NETWORK = re.compile(
    r"Could not connect|Couldn't connect|Timeout was reached|timed out|Could not resolve|"
    r"Couldn't resolve|Failed to connect|Connection refused|Connection reset|"
    r"Could not establish connection|Failure when receiving|Server returned nothing|"
    r"Send failure|Recv failure|SSL connect error",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(https?://[^/\s'\"]+)")


def network_failure(
    error: BaseException,
    timeouts: settings.NetworkTimeouts | None = None,
    s3: settings.S3Access | None = None,
) -> str | None:
    """One line for an S3 request that got no answer, naming the endpoint; None when neither
    `error` nor what caused it is one. Recognised: botocore's connection errors and timeouts
    (boto3 clients), and DuckDB httpfs' (the audit views' reads), whose message names the URL.
    `timeouts` and `s3` are those the clients were built with (the defaults when None), for
    the line: the timeouts that ran out, and the endpoint when the error names none.
    The CLI prints it with exit 4 (try again later), without a traceback."""
    timeouts = timeouts or settings.NetworkTimeouts()
    endpoint_url = s3.endpoint_url if s3 is not None else None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        line = _botocore_failure(current, timeouts, endpoint_url) or _duckdb_failure(
            current, timeouts, endpoint_url
        )
        if line is not None:
            return line
        current = current.__cause__ or current.__context__
    return None


def _fix() -> str:
    return (
        f"check {settings.AWS_ENDPOINT_URL} and the network; timeouts "
        f"{settings.RC_ARCHIVE_CONNECT_TIMEOUT}, {settings.RC_ARCHIVE_READ_TIMEOUT}, "
        f"{settings.RC_ARCHIVE_RETRY_BUDGET} (docs/deploy.md)"
    )


def _endpoint_of(url: str | None, configured: str | None) -> str:
    match = _URL.search(url or "")
    if match:
        return match.group(1)
    return configured or "the AWS default endpoint"


def _botocore_failure(
    error: BaseException, timeouts: settings.NetworkTimeouts, endpoint_url: str | None
) -> str | None:
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(
        error, exceptions.ConnectionError | exceptions.HTTPClientError
    ):
        return None
    kwargs = getattr(error, "kwargs", {}) or {}
    endpoint = _endpoint_of(kwargs.get("endpoint_url"), endpoint_url)
    if isinstance(error, exceptions.ReadTimeoutError):
        what = f"gave no answer within the read timeout ({timeouts.read:g} s)"
    elif isinstance(error, exceptions.ConnectTimeoutError):
        what = f"accepted no connection within the connect timeout ({timeouts.connect:g} s)"
    elif isinstance(error, exceptions.EndpointConnectionError):
        what = "cannot be reached (connection refused or no route)"
    else:
        what = f"dropped the connection ({type(error).__name__})"
    return f"S3 endpoint {endpoint} {what}, after retries; {_fix()}"


def _duckdb_failure(
    error: BaseException, timeouts: settings.NetworkTimeouts, endpoint_url: str | None
) -> str | None:
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(error, duckdb.IOException | duckdb.HTTPException):
        return None
    message = str(error)
    first = (message.strip().splitlines() or [""])[0]
    status = getattr(error, "status_code", None)
    if isinstance(error, duckdb.HTTPException) and isinstance(status, int) and status >= 500:
        what = f"answered HTTP {status} after retries"
    elif _DUCKDB_NETWORK.search(first):
        timeout, retries = timeouts.duckdb_http()
        what = (
            f"gave no answer in time ({timeout} s a try, {retries} retry(ies))"
            if re.search("timeout|timed out", first, re.IGNORECASE)
            else "cannot be reached (connection refused or no route)"
        )
    else:
        return None
    endpoint = _endpoint_of(first, endpoint_url)
    return f"S3 endpoint {endpoint} {what}, reading the archive's files; {_fix()}"
