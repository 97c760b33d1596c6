"""Environment variable names, declared once, and a reader for KEY=value env files.

Every part of the project (client, archive, audit, Dagster resources, CLI) imports the names from
here so a renamed setting is renamed everywhere, and error messages can name the exact variable a
person has to fix.
"""

from __future__ import annotations

from pathlib import Path

# RingCentral app + user credentials, spelled as in RingCentral's own code samples.
RC_SERVER_URL = "RC_SERVER_URL"
RC_APP_CLIENT_ID = "RC_APP_CLIENT_ID"
RC_APP_CLIENT_SECRET = "RC_APP_CLIENT_SECRET"
RC_USER_JWT = "RC_USER_JWT"

# Which sources (channels) to archive, and how the list filter for one source is spelled: the
# beta API renamed it (`source` -> `sourceIds` -> `channelIds`), see the API notes §0.2 and §2.
RC_SOURCE_IDS = "RC_SOURCE_IDS"
RC_SOURCE_FILTER_PARAM = "RC_SOURCE_FILTER_PARAM"

# Webhooks (docs/webhooks.md): the receiver's public https URL RingCentral POSTs to, and the
# secret RingCentral sends back on every notification (Verification-Token header).
RC_WEBHOOK_ADDRESS = "RC_WEBHOOK_ADDRESS"
RC_WEBHOOK_VERIFICATION_TOKEN = "RC_WEBHOOK_VERIFICATION_TOKEN"

# Archive target and the audit database.
ARCHIVE_URI = "ARCHIVE_URI"
AUDIT_DB = "AUDIT_DB"
ARCHIVE_OBJECT_LOCK_MODE = "ARCHIVE_OBJECT_LOCK_MODE"
ARCHIVE_RETENTION_DAYS = "ARCHIVE_RETENTION_DAYS"
ARCHIVE_LEGAL_HOLD = "ARCHIVE_LEGAL_HOLD"
# A second write-once store (directory or bucket) outside the archive writers' reach that
# records every commit point (docs/integrity.md); unset: verify cannot see truncation.
ARCHIVE_WITNESS_URI = "ARCHIVE_WITNESS_URI"
# Who is reading or placing a hold, as recorded in the access trail and hold records
# (docs/governance.md); unset: the operating-system user.
RC_ARCHIVE_USER = "RC_ARCHIVE_USER"

# S3-compatible stores; read by boto3 itself, named here so others can pass them on explicitly.
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
AWS_REGION = "AWS_REGION"

DEFAULT_RC_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_RC_SOURCE_FILTER_PARAM = "sourceIds"
DEFAULT_ARCHIVE_URI = "./archive"
DEFAULT_AUDIT_DB = "./audit.duckdb"


def load_env_file(path: str | Path) -> dict[str, str]:
    """Read a `KEY=value` file (blank lines and `#` comments skipped, `export ` allowed).

    Values may be wrapped in single or double quotes, which are removed; nothing is expanded.
    The caller decides whether the file or the process environment wins, so this only parses.
    Raises ValueError naming the file and line for a line that is not KEY=value.
    """
    env_path = Path(path)
    values: dict[str, str] = {}
    for line_number, raw_line in enumerate(env_path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum():
            # The line may hold a secret: name the position, never echo the content.
            raise ValueError(f"{env_path}:{line_number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


# The Iceberg catalog of the committed state (docs/tables.md); default SQLite beside AUDIT_DB.
ARCHIVE_ICEBERG_CATALOG_URI = "ARCHIVE_ICEBERG_CATALOG_URI"
