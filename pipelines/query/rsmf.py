"""A thread as Relativity Short Message Format 2.0 (`.rsmf`), the file review platforms load as
a chat conversation.

An `.rsmf` is an RFC 5322 message: `X-RSMF-*` headers, a plain-text transcript for a person who
opens it in a mail client, and one attachment `rsmf.zip` holding `rsmf_manifest.json`
(participants, one conversation, one event per message) and the attachment files the events
name. Review platforms read only the zip; the headers let them index the file without opening
it.

Mapping (docs/attachments.md, "RSMF"):
- a participant per author: the agent (RingCentral extension, `creatorId`) for agent messages,
  else the channel identity; its id is `agent-<creatorId>` or `identity-<identityId>`;
- one conversation per thread (`platform` is the channel type, `type` is `direct` for two
  participants and `channel` for more);
- a `message` event per message (newest version): `parent` is the message it replies to when
  that message is in the file, `deleted` when it was deleted remotely, `direction` incoming or
  outgoing, `edits` from the archived versions whose text differs (previous -> new, at the
  version's lastModifiedTime), and `custom` fields with the content id, status and record hash;
- each archived attachment file once in the zip, named by its SHA-256 (the event lists it with
  its original file name as `display`); an attachment whose bytes are not archived yet is named
  in the event's `custom` fields, never dropped silently.

Memory stays flat: attachment bytes are streamed from the store into the zip (a temporary file
next to the output), then the zip is streamed into the message as base64 lines.
"""

from __future__ import annotations

import base64
import json
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from pipelines.query.attachment_files import ArchivedFile, stream_blob

RSMF_VERSION = "2.0.0"
MANIFEST_NAME = "rsmf_manifest.json"
ZIP_NAME = "rsmf.zip"
_DIRECTION = {"inbound": "incoming", "outbound": "outgoing"}


def rsmf_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as RSMF's `date-time` fields and headers take it."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _participant(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(participant id, participant object) of the message's author."""
    if record.get("creator_id"):
        participant = {
            "id": f"agent-{record['creator_id']}",
            "display": record.get("agent_name") or f"agent {record['creator_id']}",
            "account_id": str(record["creator_id"]),
        }
        if record.get("agent_email"):
            participant["email"] = record["agent_email"]
        return participant["id"], participant
    identity = record.get("author_identity_id") or "unknown"
    return f"identity-{identity}", {
        "id": f"identity-{identity}",
        "display": record.get("author_name") or identity,
        "account_id": identity,
    }


def _edits(versions: list[dict[str, Any]], participant: str) -> list[dict[str, Any]]:
    """Each change of text between consecutive archived versions (oldest first)."""
    edits = []
    for before, after in zip(versions, versions[1:], strict=False):
        if (before.get("body") or "") != (after.get("body") or ""):
            edit = {"participant": participant, "previous": before.get("body") or ""}
            edit["new"] = after.get("body") or ""
            if after.get("last_modified_time"):
                edit["timestamp"] = rsmf_time(after["last_modified_time"])
            edits.append(edit)
    return edits


def manifest_for_thread(
    records: list[dict[str, Any]], versions: dict[tuple[str, str], list[dict[str, Any]]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The thread's RSMF manifest, and the archived files it names (zip name -> file entry).

    `records` are the thread's messages (newest versions, in creation order, each with its
    `attachment_files`); `versions` maps (source, content id) to every archived version of it,
    oldest first, for the edits."""
    first = records[0]
    conversation_id = f"thread-{first['thread_id'] or first['id']}"
    participants: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    in_file = {record["id"] for record in records}
    zipped: dict[str, dict[str, Any]] = {}
    for record in records:
        participant_id, participant = _participant(record)
        participants.setdefault(participant_id, participant)
        event: dict[str, Any] = {
            "id": record["id"],
            "type": "message",
            "participant": participant_id,
            "conversation": conversation_id,
            "timestamp": rsmf_time(record["creation_time"]),
            "body": record.get("body") or "",
        }
        if record.get("in_reply_to_content_id") in in_file:
            event["parent"] = record["in_reply_to_content_id"]
        if record.get("remotely_deleted"):
            event["deleted"] = True
        direction = _DIRECTION.get((record.get("direction") or "").lower())
        if direction:
            event["direction"] = direction
        edits = _edits(versions.get((record["source_id"], record["id"]), []), participant_id)
        if edits:
            event["edits"] = edits
        custom = [
            {"name": "content_id", "value": record["id"]},
            {"name": "record_sha256", "value": record["record_sha256"]},
        ]
        if record.get("status"):
            custom.append({"name": "status", "value": record["status"]})
        attachments = []
        for entry in record["attachment_files"]:
            name = entry.get("filename") or entry.get("attachment_id") or "attachment"
            if entry["status"] != "archived":
                custom.append(
                    {"name": "attachment_not_archived", "value": f"{name} ({entry['status']})"}
                )
                continue
            zipped.setdefault(entry["sha256"], entry)
            attachments.append({"id": entry["sha256"], "display": name, "size": entry["bytes"]})
        if attachments:
            event["attachments"] = attachments
        event["custom"] = custom
        events.append(event)
    conversation = {
        "id": conversation_id,
        "display": first.get("title") or f"{first.get('source_type') or 'Channel'} thread",
        "platform": (first.get("source_type") or "ringcentral").lower(),
        "type": "direct" if len(participants) <= 2 else "channel",
        "participants": list(participants),
        "custom": [
            {"name": "source_id", "value": first["source_id"]},
            {"name": "thread_id", "value": first["thread_id"] or ""},
        ],
    }
    manifest = {
        "version": RSMF_VERSION,
        "participants": list(participants.values()),
        "conversations": [conversation],
        "events": events,
    }
    return manifest, zipped


def _transcript(manifest: dict[str, Any]) -> str:
    """The plain-text body: who wrote what when, for a person opening the file as e-mail."""
    names = {p["id"]: p.get("display") or p["id"] for p in manifest["participants"]}
    lines = [f"RSMF {RSMF_VERSION} conversation: {manifest['conversations'][0]['display']}", ""]
    for event in manifest["events"]:
        deleted = " [deleted]" if event.get("deleted") else ""
        lines.append(f"{event['timestamp']} {names[event['participant']]}{deleted}:")
        lines.append(f"  {event['body']}")
        for attachment in event.get("attachments", []):
            lines.append(f"  [attachment {attachment['display']}, {attachment['size']} bytes]")
    return "\n".join(lines) + "\n"


def write_rsmf(
    path: Path,
    records: list[dict[str, Any]],
    versions: dict[tuple[str, str], list[dict[str, Any]]],
    *,
    generator: str,
    store: Any = None,
    files: dict[tuple[str, str, str], ArchivedFile] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Write the thread as `path` (.rsmf). Returns the event count and the attachment entries
    whose bytes went into the zip."""
    manifest, zipped = manifest_for_thread(records, versions)
    files = files or {}
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".rsmf-") as work:
        zip_path = Path(work) / ZIP_NAME
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1))
            for name, entry in sorted(zipped.items()):
                key = (entry["source_id"], entry["content_id"], entry["attachment_id"])
                with archive.open(name, "w", force_zip64=True) as member:
                    stream_blob(store, files[key], member.write)
        _write_message(path, manifest, zip_path, generator)
    return len(manifest["events"]), list(zipped.values())


def _write_message(path: Path, manifest: dict[str, Any], zip_path: Path, generator: str) -> None:
    events = manifest["events"]
    conversation = manifest["conversations"][0]
    outer = MIMEMultipart("mixed")
    outer["From"] = "rc-archive <export@rc-archive.invalid>"
    outer["To"] = "review <review@rc-archive.invalid>"
    outer["Subject"] = _ascii(f"{conversation['platform']} {conversation['id']}")
    outer["Date"] = format_datetime(datetime.now(UTC))
    outer["Message-ID"] = f"<{uuid.uuid4().hex}@rc-archive>"
    outer["X-RSMF-Version"] = RSMF_VERSION
    outer["X-RSMF-Generator"] = _ascii(generator)
    outer["X-RSMF-Application"] = _ascii(conversation["platform"])
    outer["X-RSMF-BeginDate"] = min(e["timestamp"] for e in events)
    outer["X-RSMF-EndDate"] = max(e["timestamp"] for e in events)
    outer["X-RSMF-EventCount"] = str(len(events))
    outer["X-RSMF-AttachmentCount"] = str(
        len({a["id"] for e in events for a in e.get("attachments", [])})
    )
    outer.attach(MIMEText(_transcript(manifest), "plain", "utf-8"))
    token = f"RCARCHIVERSMFZIP{uuid.uuid4().hex}"
    part = MIMEBase("application", "zip")
    part.set_payload(token)
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=ZIP_NAME)
    outer.attach(part)
    before, _, after = outer.as_bytes().partition(token.encode("ascii"))
    with path.open("wb") as handle, zip_path.open("rb") as source:
        handle.write(before)
        first = True
        while chunk := source.read(57 * 1024):
            if not first:
                handle.write(b"\n")
            handle.write(base64.encodebytes(chunk).rstrip(b"\n"))
            first = False
        handle.write(after)


def _ascii(text: str) -> str:
    """A header value of printable ASCII only (platform names and ids are; anything else is
    replaced, so no CR/LF can start a header)."""
    return "".join(c if 32 <= ord(c) < 127 else "_" for c in text)


def rsmf_file_name(eml_name: str) -> str:
    """The thread's file name with the .rsmf extension (same unique-by-hash stem as .eml)."""
    return eml_name[: -len(".eml")] + ".rsmf" if eml_name.endswith(".eml") else eml_name + ".rsmf"
