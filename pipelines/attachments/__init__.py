"""Attachment capture: download every attachment of the archived contents, store its bytes
write-once and content-addressed, and commit an `attachments` row per file (docs/attachments.md)."""
