"""Values the contents converters share: the attachment struct, integer bounds, and how a
status or contentDirection maps to a direction.

Why a module of its own: both the row-by-row path (schemas.contents) and the columnar fast path
(schemas.contents_columnar) read them, and the fast path must not import the module that
imports it.
"""

from __future__ import annotations

import pyarrow as pa

from schemas.common import TIMESTAMP_TYPE
from schemas.version_identity import TransportValue, VersionIdentity

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

ATTACHMENT_TYPE = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("filename", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("uri", pa.string()),
        pa.field("embedded", pa.bool_()),
        pa.field("public", pa.bool_()),
        pa.field("creation_time", TIMESTAMP_TYPE),
    ]
)

# Reference §3.1 "Status <-> direction" (GUIDE, Mar 2024); Assigned is a customer message
# waiting for an agent, so inbound too.
STATUS_DIRECTION = {
    "New": "inbound",
    "Replied": "inbound",
    "Ignored": "inbound",
    "Assigned": "inbound",
    "UserReply": "outbound",
    "UserInitiated": "outbound",
    "PendingApproval": "outbound",
}
CONTENT_DIRECTION = {"Incoming": "inbound", "Outgoing": "outbound"}


# The contents record's transport-only values (schemas.version_identity): declared here, where
# both the table (schemas.contents) and its fast converter (schemas.contents_columnar) read them.
CONTENTS_TRANSPORT = (
    TransportValue(
        "attachments[].uri",
        "RingCentral serves attachment files behind signed links: every listing, GET and "
        "webhook payload carries a fresh signature and expiry, and the host that serves them "
        "is the file host's, not the message's. The attachment's id, type, name and size stay "
        "in the identity (another file is another version); where to fetch it does not.",
    ),
    TransportValue(
        "hasAttachment",
        "Sent only in webhook payloads (a listing does not carry it); it repeats what "
        "`attachments` says.",
    ),
)
CONTENTS_VERSION = VersionIdentity(CONTENTS_TRANSPORT)
