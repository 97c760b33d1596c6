"""The in-memory account: columnar content store, people, permissions and the mutation API.

Contents live in numpy columns (one row per content, rows in creation order) so a million of
them fit in a few hundred MB; a content's JSON is built only when it is served. Row order is
creation order (ties by row = by id, see sandbox.ids), which makes per-source creation indexes
plain sorted row arrays that a keyset seek can binary-search.
"""

from __future__ import annotations

import html
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from sandbox import corpus, files, ids
from sandbox.config import SandboxConfig
from sandbox.generator import (
    F_API,
    F_ATTACH,
    F_AUTO,
    F_CATEGORY,
    F_CONTEXT,
    F_DELETED,
    F_EDITED,
    F_FIRST,
    F_OUTGOING,
    F_PUBLIC,
    F_STRUCTURED,
    IGNORED,
    NEW,
    REPLIED,
    STATUSES,
    USER_INITIATED,
    USER_REPLY,
    generate,
)

_BODIES = corpus.CUSTOMER_BODIES + corpus.AGENT_BODIES
_BODY_HTML = [f"<p>{html.escape(text, quote=False)}</p>" for _, text in _BODIES]
_N_CUSTOMER_BODIES = len(corpus.CUSTOMER_BODIES)
_CHANNEL_CONTENT_TYPES = dict(corpus.CHANNEL_TYPES)

ContentListener = Callable[[str, int], None]  # (event name, row) -> None


def iso_seconds(ms: int) -> str:
    """RingCentral prints whole seconds ('2024-02-21T23:18:34Z') though it sorts by ms."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


class ContentNotFound(KeyError):
    """No content with that id in this account (API: 404 EDI-029)."""


@dataclass(frozen=True)
class Source:
    index: int
    id: str
    type: str
    name: str
    can_read: bool
    can_reply: bool
    can_initiate: bool


class _Growable:
    """A numpy column that can be appended to in amortised O(1)."""

    def __init__(self, values: np.ndarray) -> None:
        self._data = values.copy()
        self.length = len(values)

    def view(self) -> np.ndarray:
        return self._data[: self.length]

    def append(self, value: int) -> None:
        if self.length == len(self._data):
            grown = np.empty(max(16, len(self._data) * 3 // 2), dtype=self._data.dtype)
            grown[: self.length] = self._data[: self.length]
            self._data = grown
        self._data[self.length] = value
        self.length += 1

    def __getitem__(self, row):
        return self._data[row]

    def __setitem__(self, row, value) -> None:
        self._data[row] = value


class World:
    """One account; thread-safe (one lock) because the server, live traffic and tests share it."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.lock = threading.RLock()
        self.codec = ids.IdCodec(cfg.seed)
        self.now_ms = cfg.now_ms if cfg.now_ms is not None else int(time.time() * 1000)
        gen = generate(cfg, self.now_ms)
        self.n_agents = gen.n_agents
        self.agent_ext_ids = gen.agent_ext_ids
        self.deleted_agent = gen.deleted_agent
        self.customers_per_source = gen.customers_per_source
        self.identity_created_ms = gen.identity_created_ms
        self.n_threads = gen.n_threads
        self.owner_ext_id = self.agent_ext_ids[0]  # the user behind RC_USER_JWT
        n_src = gen.n_sources
        readonly_from = cfg.sources - cfg.readonly_sources
        self.sources = [
            Source(
                index=i,
                id=self.codec.encode(ids.SOURCE, i),
                type=gen.source_types[i],
                name=f"{gen.source_types[i]} channel {i + 1}",
                can_read=i < cfg.sources,
                can_reply=i < readonly_from,
                can_initiate=i < readonly_from,
            )
            for i in range(n_src)
        ]
        self._source_by_id = {s.id: s for s in self.sources}
        self.created = _Growable(gen.created)
        self.modified = _Growable(gen.modified)
        self.source = _Growable(gen.source)
        self.thread = _Growable(gen.thread)
        self.author = _Growable(gen.author)
        self.reply_author = _Growable(gen.reply_author)
        self.reply_to = _Growable(gen.reply_to)
        self.status = _Growable(gen.status)
        self.flags = _Growable(gen.flags)
        self.creator = _Growable(gen.creator)
        self.body = _Growable(gen.body)
        self.ctype = _Growable(gen.ctype)
        self.intervention = _Growable(gen.intervention)
        self._columns = [
            self.created, self.modified, self.source, self.thread, self.author,
            self.reply_author, self.reply_to, self.status, self.flags, self.creator,
            self.body, self.ctype, self.intervention,
        ]  # fmt: skip
        self.body_override: dict[int, str] = {}
        self.source_rows = [
            _Growable(np.flatnonzero(gen.source == s).astype(np.int64)) for s in range(n_src)
        ]
        # bumped on every change to a source: invalidates lazily built lastModified indexes
        self.source_version = [0] * n_src
        self._modified_index: dict[int, tuple[int, np.ndarray]] = {}
        self.listeners: list[ContentListener] = []
        self._source_uri_cache = [self._make_source_uri(s) for s in self.sources]
        self._identity_ids: list[str] = [
            self.codec.encode(ids.IDENTITY, i) for i in range(self.identity_count)
        ]
        # Attachment links (sandbox.files): where they point (the server sets its URL once
        # bound), how they are signed, and per-attachment changes. Rotating links: each serving
        # takes the next serial `n` and expires its own TTL later; expire_attachment_links()
        # revokes every serial below a mark. Stable links: one `exp` for all, moved on re-issue.
        self.files_base_url = "https://sandbox.digital.example"
        self._clock_started = time.monotonic()
        self._rotating_links = cfg.attachment_links == "rotating"
        self._max_attachment_bytes = files.PROFILES[cfg.attachments].max_bytes
        self._link_ttl_ms = int(cfg.attachment_link_ttl_seconds * 1000)
        self._link_signer = files.LinkSigner(cfg.seed)
        self._link_serials = itertools.count()
        self._links_revoked_below = 0
        self._links_expire_ms = self.now_ms + self._link_ttl_ms
        self.attachment_overrides: dict[int, dict] = {}
        self.removed_attachments: set[int] = set()  # indexes no content lists any more

    # ---------------------------------------------------------------- people and sources
    @property
    def source_ids(self) -> list[str]:
        """Sources the agent can Read: exactly RC_SOURCE_IDS."""
        return [s.id for s in self.sources if s.can_read]

    @property
    def hidden_source_ids(self) -> list[str]:
        """Sources in the account that the agent cannot Read (invisible through the API)."""
        return [s.id for s in self.sources if not s.can_read]

    @property
    def all_source_ids(self) -> list[str]:
        return [s.id for s in self.sources]

    def source_by_id(self, source_id: str) -> Source | None:
        return self._source_by_id.get(source_id)

    @property
    def identity_count(self) -> int:
        n_src = len(self.sources)
        return n_src * self.n_agents + n_src * self.customers_per_source

    def identity_source(self, identity: int) -> int:
        n_src = len(self.sources)
        if identity < n_src * self.n_agents:
            return identity // self.n_agents
        return (identity - n_src * self.n_agents) % n_src

    def identity_agent(self, identity: int) -> int | None:
        """Agent index behind an agent identity; None for a customer."""
        if identity < len(self.sources) * self.n_agents:
            return identity % self.n_agents
        return None

    def agent_name(self, agent: int) -> tuple[str, str]:
        first = corpus.FIRST_NAMES[(agent * 7 + self.cfg.seed) % len(corpus.FIRST_NAMES)]
        last = corpus.LAST_NAMES[(agent * 5 + self.cfg.seed) % len(corpus.LAST_NAMES)]
        return first, last

    def customer_name(self, identity: int) -> tuple[str, str]:
        h = (identity * 2654435761 + self.cfg.seed) & 0xFFFFFFFF
        first = corpus.FIRST_NAMES[h % len(corpus.FIRST_NAMES)]
        last = corpus.LAST_NAMES[(h >> 8) % len(corpus.LAST_NAMES)]
        return first, last

    def identity_id(self, identity: int) -> str:
        return self._identity_ids[identity]

    def identity_json(self, identity: int) -> dict:
        s = self.sources[self.identity_source(identity)]
        agent = self.identity_agent(identity)
        created = int(self.identity_created_ms[identity])
        quirks = self.cfg.quirks
        if agent is not None:
            first, last = self.agent_name(agent)
            company = "Sandbox Corp"
            user_ids = [self.agent_ext_ids[agent]]
            phone = None
            email = f"{first.lower()}.{last.lower()}@sandbox-corp.example"
        else:
            first, last = self.customer_name(identity)
            company = None
            user_ids = []
            phone = f"+3361{identity % 10_000_000:07d}"
            email = None if identity % 3 else f"{first.lower()}{identity}@mail.example"
        record: dict = {
            "id": self._identity_ids[identity],
            "type": s.type if s.type != "InstagramMessaging" else "Instagram",
            "creationTime": iso_seconds(created),
            "lastModifiedTime": iso_seconds(created + (identity % 97) * 3_600_000),
            "displayName": f"{first} {last}",
            "screenName": f"{first} {last[0]}.",
            "firstName": first,
            "lastName": last,
            "company": company,
            "emailAddress": email,
            "gender": None,
            "homePhone": None,
            "mobilePhone": phone,
            "avatarUri": f"https://sandbox.digital.example/avatars/{self._identity_ids[identity]}.png",
            "identityGroupId": self.codec.encode(ids.IDENTITY_GROUP, identity),
            "extraValues": {},
            "userIds": user_ids,
            "uuid": str(uuid.UUID(int=(self.cfg.seed << 64) | identity)),
        }
        if self.cfg.field_mode == "live":
            record["identityType"] = "Agent" if agent is not None else "Customer"
        if not quirks:
            record = {k: v for k, v in record.items() if v is not None}
        return record

    def agent_extension_ids(self) -> list[str]:
        return list(self.agent_ext_ids)

    # ---------------------------------------------------------------- contents: reading
    @property
    def row_count(self) -> int:
        return self.created.length

    def row_of(self, content_id: str) -> int | None:
        row = self.codec.decode(ids.CONTENT, content_id)
        if row is None or row >= self.row_count:
            return None
        return row

    def content_id(self, row: int) -> str:
        return self.codec.encode(ids.CONTENT, row)

    def body_text(self, row: int) -> str:
        override = self.body_override.get(row)
        if override is not None:
            return override
        return _BODIES[int(self.body[row])][1]

    def content_ids(self, source_id: str) -> set[str]:
        """Ids of all contents of a source, as the API would list them now."""
        source = self._source_by_id.get(source_id)
        if source is None:
            raise KeyError(f"unknown source id {source_id!r}; known: {self.all_source_ids}")
        with self.lock:
            prefix = self.codec.prefix(ids.CONTENT)
            return {f"{prefix}{row:08x}" for row in self.source_rows[source.index].view()}

    def content_json(self, content_id: str) -> dict:
        row = self.row_of(content_id)
        if row is None:
            raise ContentNotFound(content_id)
        with self.lock:
            return self.row_json(row)

    def all_contents(self, source_id: str | None = None) -> Iterator[dict]:
        """Every content (of one source, or of every readable source) as the API shows it."""
        wanted = [source_id] if source_id else self.source_ids
        for sid in wanted:
            with self.lock:
                rows = self.source_rows[self._source_by_id[sid].index].view().copy()
            for row in rows:
                with self.lock:
                    yield self.row_json(int(row))

    def versions(self, source_id: str | None = None) -> dict[str, str]:
        """id -> lastModifiedTime (as served) of every content visible now."""
        return {c["id"]: c["lastModifiedTime"] for c in self.all_contents(source_id)}

    def _make_source_uri(self, s: Source) -> str:
        return f"https://sandbox.digital.example/channels/{s.type.lower()}/{s.id}"

    # ---------------------------------------------------------------- attachment files
    def _attachment_spec(self, row: int, k: int) -> files.AttachmentSpec:
        index = row * 2 + k
        mime, ext, size = corpus.ATTACHMENT_KINDS[(row + k) % len(corpus.ATTACHMENT_KINDS)]
        size = size + row % 1000
        if self._max_attachment_bytes is not None:
            size = min(size, self._max_attachment_bytes)
        every = self.cfg.large_attachment_every
        if every and self.cfg.large_attachment_bytes and index % every == 0:
            size = self.cfg.large_attachment_bytes
        blob = index
        filename = None
        override = self.attachment_overrides.get(index)
        if override:
            mime = override.get("content_type", mime)
            size = override.get("size", size)
            blob = override.get("blob", blob)
            filename = override.get("filename")
        return files.AttachmentSpec(
            index=index,
            id=self.codec.encode(ids.ATTACHMENT, index),
            content_type=mime,
            filename=filename or f"{row}-{k}.{ext}",
            size=int(size),
            blob=blob,
        )

    def attachment(self, attachment_id: str) -> files.AttachmentSpec | None:
        """The attachment with that id, if a content of this world lists it."""
        index = self.codec.decode(ids.ATTACHMENT, attachment_id)
        if index is None or index // 2 >= self.row_count or index in self.removed_attachments:
            return None
        row, k = divmod(index, 2)
        if not int(self.flags[row]) & F_ATTACH or k >= 1 + (row * 2654435761 >> 7) % 2:
            return None
        return self._attachment_spec(row, k)

    def attachment_ids(self, source_id: str | None = None) -> list[str]:
        """Ids of every attachment listed by the contents visible now (of one source)."""
        return [a["id"] for c in self.all_contents(source_id) for a in c.get("attachments") or []]

    def set_attachment(
        self,
        attachment_id: str,
        *,
        size: int | None = None,
        same_bytes_as: str | None = None,
        filename: str | None = None,
    ) -> None:
        """Change an attachment before it is read: its size, or make its bytes (and type and
        size) those of another attachment (the same file sent twice), or its file name. The
        content's lastModifiedTime does not move (edit_content it for a new version)."""
        index = self.codec.decode(ids.ATTACHMENT, attachment_id)
        if index is None:
            raise KeyError(attachment_id)
        with self.lock:
            override = self.attachment_overrides.setdefault(index, {})
            if same_bytes_as is not None:
                other = self.attachment(same_bytes_as)
                if other is None:
                    raise KeyError(same_bytes_as)
                override.update(blob=other.blob, size=other.size, content_type=other.content_type)
            if size is not None:
                override["size"] = int(size)
            if filename is not None:
                override["filename"] = filename

    def remove_attachment(self, attachment_id: str) -> None:
        """The author removed the file from the message on the channel: its content no longer
        lists it (lastModifiedTime moves) and its links answer 404 from now on."""
        with self.lock:
            spec = self.attachment(attachment_id)
            if spec is None:
                raise KeyError(attachment_id)
            self.removed_attachments.add(spec.index)
            self._touch(spec.index // 2, self._clock_ms())

    def clock_ms(self) -> int:
        """The world's clock: `now_ms` at start, moving with wall time since."""
        return self.now_ms + int((time.monotonic() - self._clock_started) * 1000)

    def expire_attachment_links(self) -> None:
        """Every attachment link served so far is refused (403 ATT-403) from now on; contents
        are served with new ones (lastModifiedTime does not move, as with RingCentral's
        re-signed URLs). Rotating links: the serials served so far are revoked. Stable links:
        every link is re-issued with a later `exp`."""
        with self.lock:
            if self._rotating_links:
                self._links_revoked_below = next(self._link_serials)
                return
            clock = self.clock_ms()
            self._links_expire_ms = max(self._links_expire_ms + 1, clock) + self._link_ttl_ms

    def link_refusal(
        self, attachment_id: str, expires: str | None, serial: str | None, sig: str | None
    ) -> tuple[str, str] | None:
        """Why a download link is refused, as (error code, message), or None when it is good:
        `ATT-401` if this world did not sign it (a rotating link without `n`, a stable one with
        it, or any changed parameter), `ATT-403` once it expired or was revoked."""
        if (serial is None) == self._rotating_links or not self._link_signer.check(
            attachment_id, expires, serial, sig
        ):
            return "ATT-401", "Link signature is invalid"
        expires_ms = int(expires or 0)
        if self.clock_ms() > expires_ms:
            return "ATT-403", "Link expired"
        if self._rotating_links:
            revoked = int(serial or 0) < self._links_revoked_below
        else:
            revoked = expires_ms < self._links_expire_ms
        return ("ATT-403", "Link expired") if revoked else None

    def row_json(self, row: int) -> dict:  # noqa: C901 - one flat record builder, kept fast
        """The content exactly as the API returns it now (field mode and quirks applied)."""
        cfg = self.cfg
        quirks = cfg.quirks
        live = cfg.field_mode == "live"
        codec = self.codec
        flags = int(self.flags[row])
        s = self.sources[int(self.source[row])]
        created = int(self.created[row])
        modified = int(self.modified[row])
        body_index = int(self.body[row])
        body = self.body_override.get(row) if flags & F_EDITED else None
        if body is None:
            body = _BODIES[body_index][1]
            body_html = _BODY_HTML[body_index]
        else:
            body_html = f"<p>{html.escape(body, quote=False)}</p>"
        language = _BODIES[body_index][0]
        outgoing = bool(flags & F_OUTGOING)
        thread = int(self.thread[row])
        author = int(self.author[row])
        reply_to = int(self.reply_to[row])
        creator = int(self.creator[row])
        intervention = int(self.intervention[row])
        status = int(self.status[row])
        ctypes = _CHANNEL_CONTENT_TYPES[s.type]
        content_type = ctypes[int(self.ctype[row]) % len(ctypes)]
        if s.type == "GoogleMyBusiness" and outgoing:
            content_type = "ReviewResponse"
        if flags & F_STRUCTURED:
            content_type = "TemplateMessage"
        created_s = iso_seconds(created)
        attachments = []
        if flags & F_ATTACH:
            rotating = self._rotating_links
            # Rotating: served now, valid for the TTL from now; stable: the shared expiry.
            expires = self.clock_ms() + self._link_ttl_ms if rotating else self._links_expire_ms
            sign = self._link_signer.sign
            files_url = self.files_base_url + files.FILES_PREFIX
            removed = self.removed_attachments
            for k in range(1 + (row * 2654435761 >> 7) % 2):
                if removed and row * 2 + k in removed:
                    continue
                spec = self._attachment_spec(row, k)
                if rotating:
                    serial = next(self._link_serials)
                    query = f"?exp={expires}&n={serial}&sig={sign(spec.id, expires, serial)}"
                else:
                    query = f"?exp={expires}&sig={sign(spec.id, expires)}"
                att = {
                    "id": spec.id,
                    "creationTime": created_s,
                    "lastModifiedTime": created_s,
                    "contentType": spec.content_type,
                    "filename": spec.filename,
                    "size": spec.size,
                    "embedded": False,
                    "public": bool(flags & F_PUBLIC),
                    "uri": f"{files_url}{spec.id}/{spec.filename}{query}",
                }
                if quirks:
                    att["videoMetadata"] = []
                    att["attachableId"] = codec.encode(ids.CONTENT, row)
                    att["attachableType"] = "Content"
                attachments.append(att)
        creator_id = self.agent_ext_ids[creator] if creator >= 0 else (None if quirks else "")
        if intervention >= 0:
            intervention_id = codec.encode(ids.INTERVENTION, intervention)
        else:
            intervention_id = None if quirks else codec.encode(ids.INTERVENTION, thread)
        channel_uri = self._source_uri_cache[s.index]
        if quirks and not (flags & F_PUBLIC):
            channel_uri = None
        if flags & F_CONTEXT:
            context = {"orderNumber": f"ORD-{row:06d}", "tier": ("gold", "silver")[row % 2]}
        else:
            context = None
        record: dict = {
            "id": codec.encode(ids.CONTENT, row),
            "creationTime": created_s,
            "lastModifiedTime": iso_seconds(modified),
            "authorIdentityId": self._identity_ids[author],
            "body": body,
            "bodyInputFormat": "Text",
            "categoryIds": (
                [codec.encode(ids.CATEGORY, row % corpus.CATEGORY_COUNT)]
                if flags & F_CATEGORY
                else []
            ),
            "creatorId": creator_id,
            "interventionId": intervention_id,
            "language": language,
            "remotelyDeleted": bool(flags & F_DELETED),
        }
        if live:
            record["channelId"] = s.id
            record["channelUri"] = channel_uri
        else:
            record["sourceId"] = s.id
            record["sourceUri"] = channel_uri if channel_uri is not None else None
        if not quirks and record.get("sourceUri", "x") is None:
            record["sourceUri"] = self._source_uri_cache[s.index]
        record["synchronizationStatus"] = "Success"
        record["status"] = STATUSES[status]
        record["threadId"] = codec.encode(ids.THREAD, thread)
        if reply_to >= 0:
            record["inReplyToContentId"] = codec.encode(ids.CONTENT, reply_to)
        else:
            record["inReplyToContentId"] = None if quirks else ""
        record["inReplyToAuthorIdentityId"] = self._identity_ids[int(self.reply_author[row])]
        record["attachments"] = attachments
        record["autoSubmitted"] = bool(flags & F_AUTO)
        if quirks:
            record["identityGroupId"] = codec.encode(ids.IDENTITY_GROUP, author)
            record["bodyFormatted"] = {"Text": body, "Html": body_html}
            record["contextData"] = context
        else:
            record["bodyFormatted"] = {"text": body, "html": body_html}
            if context is not None:
                record["contextData"] = context
        if outgoing:
            record["createdFrom"] = "Api" if flags & F_API else "Interface"
        else:
            record["createdFrom"] = "Synchronizer"
        record["public"] = bool(flags & F_PUBLIC)
        record["published"] = True
        record["channelType" if live else "sourceType"] = s.type
        if quirks:
            record["structuredContentSupported"] = s.type == "WhatsApp"
        record["type"] = content_type
        record["synchronizationError"] = None if quirks else ""
        record["capabilitiesSupported"] = ["template", "list"] if s.type == "WhatsApp" else []
        if live:
            record["contentDirection"] = "Outgoing" if outgoing else "Incoming"
            record["firstInThread"] = bool(flags & F_FIRST)
        if s.type == "Email":
            title = corpus.EMAIL_TITLES[thread % len(corpus.EMAIL_TITLES)]
            record["title"] = f"Re: {title}" if not flags & F_FIRST else title
        elif not quirks:
            record["title"] = ""
        if content_type == "Review":
            record["rating"] = 1 + row % 5
        elif not quirks:
            record["rating"] = 0
        if quirks and flags & F_STRUCTURED:
            record["structuredContent"] = {
                "type": "template",
                "title": "Order update",
                "subtitle": f"Your order ORD-{row:06d} has shipped 📦",
                "items": [{"type": "button", "title": "Track"}],
            }
        return record

    # ---------------------------------------------------------------- indexes
    def creation_rows(self, source_index: int) -> np.ndarray:
        """Rows of a source in (creationTime, id) order."""
        return self.source_rows[source_index].view()

    def modified_rows(self, source_index: int) -> np.ndarray:
        """Rows of a source in (lastModifiedTime, id) order; rebuilt lazily after changes."""
        version = self.source_version[source_index]
        cached = self._modified_index.get(source_index)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = self.source_rows[source_index].view()
        order = np.lexsort((rows, self.modified.view()[rows]))
        index = rows[order]
        self._modified_index[source_index] = (version, index)
        return index

    # ---------------------------------------------------------------- mutations
    def _clock_ms(self) -> int:
        now = int(time.time() * 1000)
        last = int(self.created[self.row_count - 1]) if self.row_count else 0
        return max(now, last)

    def _touch(self, row: int, now: int) -> None:
        self.modified[row] = max(now, int(self.modified[row]))
        self.source_version[int(self.source[row])] += 1

    def _append_row(self, **values: int) -> int:
        row = self.row_count
        for name, column in zip(_COLUMN_NAMES, self._columns, strict=True):
            column.append(values[name])
        self.source_rows[values["source"]].append(row)
        self.source_version[values["source"]] += 1
        return row

    def _notify(self, event: str, row: int) -> None:
        for listener in list(self.listeners):
            listener(event, row)

    def _source_or_error(self, source_id: str) -> Source:
        source = self._source_by_id.get(source_id)
        if source is None:
            raise KeyError(f"unknown source id {source_id!r}; known: {self.all_source_ids}")
        return source

    def _customer_identity(self, source: Source, customer: str | None, salt: int) -> int:
        if customer is not None:
            identity = self.codec.decode(ids.IDENTITY, customer)
            if identity is None or identity >= self.identity_count:
                raise KeyError(f"unknown customer identity id {customer!r}")
            return identity
        n_src = len(self.sources)
        local = (salt * 2654435761 + self.cfg.seed) % self.customers_per_source
        return n_src * self.n_agents + local * n_src + source.index

    def add_content(
        self,
        source_id: str,
        body: str | None = None,
        customer: str | None = None,
        thread_id: str | None = None,
        with_attachments: bool = False,
    ) -> str:
        """A customer message imported from the channel (status New); returns its id.
        `with_attachments`: it lists one or two files (kinds and sizes follow from its row)."""
        with self.lock:
            source = self._source_or_error(source_id)
            now = self._clock_ms()
            row = self.row_count
            identity = self._customer_identity(source, customer, row)
            if thread_id is not None:
                thread = self.codec.decode(ids.THREAD, thread_id)
                if thread is None or thread >= self.n_threads:
                    raise KeyError(f"unknown thread id {thread_id!r}")
                first = 0
            else:
                thread = self.n_threads
                self.n_threads += 1
                first = F_FIRST
            agent_identity = source.index * self.n_agents + (row % self.n_agents)
            flags = first | (F_ATTACH if with_attachments else 0)
            row = self._append_row(
                created=now, modified=now, source=source.index, thread=thread, author=identity,
                reply_author=agent_identity, reply_to=-1, status=NEW, flags=flags,
                creator=-1, body=row % _N_CUSTOMER_BODIES, ctype=0, intervention=thread,
            )  # fmt: skip
            if body is not None:
                self.body_override[row] = body
                self.flags[row] = int(self.flags[row]) | F_EDITED
        self._notify("Imported", row)
        return self.content_id(row)

    def reply(self, content_id: str, body: str | None = None, agent: int = 0) -> str:
        """An agent reply (UserReply); the replied message becomes Replied and is modified."""
        with self.lock:
            target = self.row_of(content_id)
            if target is None:
                raise ContentNotFound(content_id)
            now = self._clock_ms()
            source = int(self.source[target])
            agent_identity = source * self.n_agents + agent % self.n_agents
            row = self._append_row(
                created=now, modified=now, source=source, thread=int(self.thread[target]),
                author=agent_identity, reply_author=int(self.author[target]), reply_to=target,
                status=USER_REPLY, flags=F_OUTGOING | F_API, creator=agent % self.n_agents,
                body=_N_CUSTOMER_BODIES + now % len(corpus.AGENT_BODIES), ctype=0,
                intervention=-1,
            )  # fmt: skip
            if body is not None:
                self.body_override[row] = body
                self.flags[row] = int(self.flags[row]) | F_EDITED
            if int(self.status[target]) in (NEW, IGNORED, 1):
                self.status[target] = REPLIED
                self._touch(target, now)
        self._notify("Exported", row)
        return self.content_id(row)

    def initiate(self, source_id: str, body: str | None = None, agent: int = 0) -> str:
        """An agent starts a new discussion (UserInitiated)."""
        with self.lock:
            source = self._source_or_error(source_id)
            now = self._clock_ms()
            thread = self.n_threads
            self.n_threads += 1
            row = self.row_count
            customer = self._customer_identity(source, None, row)
            row = self._append_row(
                created=now, modified=now, source=source.index, thread=thread,
                author=source.index * self.n_agents + agent % self.n_agents,
                reply_author=customer, reply_to=-1, status=USER_INITIATED,
                flags=F_OUTGOING | F_API | F_FIRST, creator=agent % self.n_agents,
                body=_N_CUSTOMER_BODIES + row % len(corpus.AGENT_BODIES), ctype=0,
                intervention=-1,
            )  # fmt: skip
            if body is not None:
                self.body_override[row] = body
                self.flags[row] = int(self.flags[row]) | F_EDITED
        self._notify("DiscussionInitiated", row)
        return self.content_id(row)

    def edit_content(self, content_id: str, body: str | None = None) -> None:
        """The author edited the message on the channel: new body, lastModifiedTime moves."""
        with self.lock:
            row = self.row_of(content_id)
            if row is None:
                raise ContentNotFound(content_id)
            text = body if body is not None else self.body_text(row) + corpus.EDITED_SUFFIX
            self.body_override[row] = text
            self.flags[row] = int(self.flags[row]) | F_EDITED
            self._touch(row, self._clock_ms())

    def delete_remotely(self, content_id: str) -> None:
        """Deleted on the channel: stays listed with remotelyDeleted=true."""
        with self.lock:
            row = self.row_of(content_id)
            if row is None:
                raise ContentNotFound(content_id)
            self.flags[row] = int(self.flags[row]) | F_DELETED
            self._touch(row, self._clock_ms())

    def set_status(self, content_id: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {STATUSES}")
        with self.lock:
            row = self.row_of(content_id)
            if row is None:
                raise ContentNotFound(content_id)
            self.status[row] = STATUSES.index(status)
            self._touch(row, self._clock_ms())


_COLUMN_NAMES = (
    "created", "modified", "source", "thread", "author", "reply_author", "reply_to", "status",
    "flags", "creator", "body", "ctype", "intervention",
)  # fmt: skip
