"""The settings: their environment variable names, declared once, and `Settings`, the one
typed reading of them.

Every part of the project (client, archive, audit, Dagster resources, CLI) imports the names from
here so a renamed setting is renamed everywhere, and error messages can name the exact variable a
person has to fix. Values are parsed once, by `Settings.from_env`, so an on/off or a number
means the same to the CLI, the Dagster resources and the store. RingCentral credentials are not
held here: `ClientSettings` reads them, and the Dagster resources take them as `EnvVar`s so that
they are resolved at run time and never shown in the UI. S3 keys are (`S3Access`), kept out of
every `repr`, because every S3 client needs them and reading them twice is how two clients
ended up with different ones.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from schemas.ids import configured_source_ids

# RingCentral app + user credentials, spelled as in RingCentral's own code samples.
RC_SERVER_URL = "RC_SERVER_URL"
RC_APP_CLIENT_ID = "RC_APP_CLIENT_ID"
RC_APP_CLIENT_SECRET = "RC_APP_CLIENT_SECRET"
RC_USER_JWT = "RC_USER_JWT"

# Which sources (channels) to archive, and how the list filter for one source is spelled: the
# beta API renamed it (`source` -> `sourceIds` -> `channelIds`), see the API notes §0.2 and §2.
RC_SOURCE_IDS = "RC_SOURCE_IDS"
RC_SOURCE_FILTER_PARAM = "RC_SOURCE_FILTER_PARAM"
# Where this machine's processes share one access token (pipelines/ringcentral/token_cache.py):
# a directory, or `off`; unset: the user's cache directory (~/.cache/rc-archive).
RC_TOKEN_CACHE = "RC_TOKEN_CACHE"

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
# retention.yaml (years per channel type and source, docs/governance.md): with an Object Lock
# mode, each data object is locked for its source's class (never less than the days above).
ARCHIVE_RETENTION_CLASSES = "ARCHIVE_RETENTION_CLASSES"
# A second write-once store (directory or bucket) outside the archive writers' reach that
# records every commit point (docs/integrity.md); unset: verify cannot see truncation.
ARCHIVE_WITNESS_URI = "ARCHIVE_WITNESS_URI"
# Transparency (docs/integrity.md, "Cosigned checkpoints"): the name of the archive's logs (each
# source's checkpoint has the origin `<name>/<source id>`; a schema-less URL the firm controls),
# the witnesses that cosign them (comma-separated `<vkey>[@<url>]`: a witness's verifier key, and
# where `rc-archive cosign` reaches it), how many of them verify requires (default: all), and the
# public key the checkpoints are signed with (the attestation key's .pub) for verify.
ARCHIVE_LOG_NAME = "ARCHIVE_LOG_NAME"
ARCHIVE_COSIGNERS = "ARCHIVE_COSIGNERS"
ARCHIVE_COSIGNER_QUORUM = "ARCHIVE_COSIGNER_QUORUM"
ARCHIVE_LOG_PUBLIC_KEY = "ARCHIVE_LOG_PUBLIC_KEY"
DEFAULT_ARCHIVE_LOG_NAME = "rc-archive.local/archive"
# Supervision policies (YAML: lexicon terms, patterns, review sampling; docs/governance.md),
# applied to every new message as it is archived; unset: nothing is flagged.
ARCHIVE_POLICIES = "ARCHIVE_POLICIES"
# Who is reading or placing a hold, as recorded in the access trail and hold records
# (docs/governance.md); unset: the operating-system user.
RC_ARCHIVE_USER = "RC_ARCHIVE_USER"

# Dagster schedules (cron expressions, UTC): the archive probe and the webhook subscription's
# renewal.
ARCHIVE_SCHEDULE_CRON = "ARCHIVE_SCHEDULE_CRON"
WEBHOOK_SUBSCRIPTION_CRON = "WEBHOOK_SUBSCRIPTION_CRON"

# S3-compatible stores; read by boto3 itself, named here so others can pass them on explicitly.
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
AWS_REGION = "AWS_REGION"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
AWS_PROFILE = "AWS_PROFILE"

DEFAULT_RC_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_RC_SOURCE_FILTER_PARAM = "sourceIds"
DEFAULT_ARCHIVE_URI = "./archive"
DEFAULT_AUDIT_DB = "./audit.duckdb"
DEFAULT_ARCHIVE_SCHEDULE_CRON = "*/15 * * * *"
DEFAULT_WEBHOOK_SUBSCRIPTION_CRON = "*/30 * * * *"


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

# Network timeouts, in seconds, of every network client (docs/deploy.md, "Timeouts"): boto3 (the
# archive, the witness, Glue), the audit views' DuckDB httpfs reads, Iceberg's S3 file IO and
# REST catalog, and the RingCentral API client. Connect: to open a connection. Read: the longest
# wait for any byte of an answer. Budget: the longest one request keeps retrying network
# failures (tries, timeouts and waits together): boto3 starts no retry that could end after it
# (`may_retry`), the RingCentral client cuts a try's timeouts to what is left of it, DuckDB
# splits it into tries (`duckdb_http`). So an endpoint that accepts connections and never
# answers ends the command with exit 4 within the budget, well inside a minute by default.
RC_ARCHIVE_CONNECT_TIMEOUT = "RC_ARCHIVE_CONNECT_TIMEOUT"
RC_ARCHIVE_READ_TIMEOUT = "RC_ARCHIVE_READ_TIMEOUT"
RC_ARCHIVE_RETRY_BUDGET = "RC_ARCHIVE_RETRY_BUDGET"
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 15.0
DEFAULT_RETRY_BUDGET_SECONDS = 40.0


# The web console (`rc-archive console`, docs/console.md): its users file (JSON, scrypt
# hashes; default `console-users.json` beside AUDIT_DB), where its exports are produced (default
# `console-exports/` beside AUDIT_DB), how long a session lasts idle and at most, and the
# optional single sign-on header a reverse proxy sets (honoured only from the proxies listed).
CONSOLE_USERS_FILE = "CONSOLE_USERS_FILE"
CONSOLE_EXPORTS_DIR = "CONSOLE_EXPORTS_DIR"
CONSOLE_SESSION_IDLE_MINUTES = "CONSOLE_SESSION_IDLE_MINUTES"
CONSOLE_SESSION_MAX_HOURS = "CONSOLE_SESSION_MAX_HOURS"
CONSOLE_TRUSTED_USER_HEADER = "CONSOLE_TRUSTED_USER_HEADER"
CONSOLE_TRUSTED_PROXIES = "CONSOLE_TRUSTED_PROXIES"
DEFAULT_CONSOLE_USERS_FILE_NAME = "console-users.json"
DEFAULT_CONSOLE_EXPORTS_DIR_NAME = "console-exports"
DEFAULT_CONSOLE_SESSION_IDLE_MINUTES = 30.0
DEFAULT_CONSOLE_SESSION_MAX_HOURS = 12.0


class SettingError(ValueError):
    """A setting's value is malformed; the message names the variable and what it expects."""


def parse_flag(name: str, value: str | None) -> bool:
    """The one reading of an on/off setting (ARCHIVE_LEGAL_HOLD and the like)."""
    if value is None or value.strip() == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{name}={value!r}: expected true/false")


def parse_retention_days(value: str | None) -> int:
    """ARCHIVE_RETENTION_DAYS as a number of days (0: no retention set)."""
    text = (value or "").strip()
    try:
        days = int(text) if text else 0
    except ValueError:
        days = -1
    if days < 0:
        raise SettingError(f"{ARCHIVE_RETENTION_DAYS}={text!r}: expected a whole number of days")
    return days


def parse_lock_mode(value: str | None) -> str | None:
    """ARCHIVE_OBJECT_LOCK_MODE: GOVERNANCE, COMPLIANCE, or None when unset."""
    mode = (value or "").strip().upper() or None
    if mode not in (None, "GOVERNANCE", "COMPLIANCE"):
        raise SettingError(
            f"{ARCHIVE_OBJECT_LOCK_MODE}={value!r}: expected GOVERNANCE or COMPLIANCE (or unset)"
        )
    return mode


def parse_seconds(name: str, value: str | None, default: float) -> float:
    """A positive number of seconds (a timeout); empty means `default`."""
    text = (value or "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise SettingError(f"{name}={text!r}: expected seconds, a number above 0 (e.g. 15)")
    return seconds


@dataclass(frozen=True)
class NetworkTimeouts:
    """The timeouts every network client is built with (see RC_ARCHIVE_CONNECT_TIMEOUT above)."""

    connect: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    read: float = DEFAULT_READ_TIMEOUT_SECONDS
    budget: float = DEFAULT_RETRY_BUDGET_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NetworkTimeouts:
        """RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRY_BUDGET from `env`; a malformed
        value raises SettingError naming the variable."""

        def seconds(name: str, default: float) -> float:
            return parse_seconds(name, env.get(name), default)

        return cls(
            connect=seconds(RC_ARCHIVE_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT_SECONDS),
            read=seconds(RC_ARCHIVE_READ_TIMEOUT, DEFAULT_READ_TIMEOUT_SECONDS),
            budget=seconds(RC_ARCHIVE_RETRY_BUDGET, DEFAULT_RETRY_BUDGET_SECONDS),
        )

    def may_retry(self, elapsed: float, wait: float) -> bool:
        """Whether a request that has spent `elapsed` seconds may wait `wait` seconds and try
        again: only when that try, even if it runs into both timeouts, ends within the budget."""
        return elapsed + wait + self.connect + self.read <= self.budget

    def duckdb_http(self) -> tuple[int, int]:
        """DuckDB httpfs' (`http_timeout`, `http_retries`). Its timeout bounds a whole request
        (connect and the whole transfer, not the wait for one byte), so a try gets half the
        budget, at least the read timeout, in whole seconds, and as many retries as fit."""
        timeout = max(1, math.ceil(max(self.read, self.budget / 2)))
        return timeout, max(0, int(self.budget // timeout) - 1)


def text_setting(env: Mapping[str, str], name: str) -> str | None:
    """A free-text setting of `env`: stripped, None when unset or empty."""
    return (env.get(name) or "").strip() or None


@dataclass(frozen=True)
class S3Access:
    """How every S3 client of rc-archive (boto3 for the archive, the witness and Iceberg's
    file IO; DuckDB's httpfs for the catalog) reaches S3: read once from the AWS_* variables.

    The keys are secrets: they are kept out of `repr` (a logged Settings shows none) and
    `masked()` gives the copy that may be printed. Without static keys every client uses the
    AWS credential chain (AWS_PROFILE, SSO, web identity, the instance or container role)."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Access:
        """The AWS_* variables of `env` (empty values mean unset); never raises: a half-set
        pair of keys is refused where the keys are used (`catalog.connection.s3_secret_sql`)."""

        def text(name: str) -> str | None:
            return text_setting(env, name)

        return cls(
            endpoint_url=text(AWS_ENDPOINT_URL),
            region=text(AWS_REGION) or text(AWS_DEFAULT_REGION),
            access_key_id=text(AWS_ACCESS_KEY_ID),
            secret_access_key=text(AWS_SECRET_ACCESS_KEY),
            session_token=text(AWS_SESSION_TOKEN),
            profile=text(AWS_PROFILE),
        )

    @property
    def static_keys(self) -> bool:
        """Static keys when both are set; otherwise the AWS credential chain."""
        return bool(self.access_key_id and self.secret_access_key)

    def masked(self) -> S3Access:
        """This access with the secret key and session token replaced by their variable's
        name in angle brackets: what docs, logs and printed setup statements may show."""
        return replace(
            self,
            secret_access_key=f"<{AWS_SECRET_ACCESS_KEY}>" if self.secret_access_key else None,
            session_token=f"<{AWS_SESSION_TOKEN}>" if self.session_token else None,
        )

    def secrets(self) -> tuple[str, ...]:
        """The secret values, to scrub from an error message that might echo them."""
        return tuple(s for s in (self.secret_access_key, self.session_token) if s)


def parse_positive(name: str, value: str | None, default: float, most: float) -> float:
    """A number above 0 and at most `most` (minutes, hours); empty means `default`."""
    text = (value or "").strip()
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 < number <= most:
        raise SettingError(f"{name}={text!r}: expected a number above 0, at most {most:g}")
    return number


def parse_networks(name: str, value: str | None) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks (`10.0.0.5, 10.1.0.0/16`), each
    written back in its normal form; empty means none."""
    found = []
    for part in (value or "").split(","):
        text = part.strip()
        if not text:
            continue
        try:
            found.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise SettingError(
                f"{name}: {text!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return tuple(found)


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console's settings (docs/console.md). The users file and the exports directory
    default to files beside AUDIT_DB (`Settings.console_users_file`, `.console_exports_dir`).
    The trusted header is off unless both it and the proxies it may come from are set."""

    users_file: str | None = None
    exports_dir: str | None = None
    session_idle_minutes: float = DEFAULT_CONSOLE_SESSION_IDLE_MINUTES
    session_max_hours: float = DEFAULT_CONSOLE_SESSION_MAX_HOURS
    trusted_user_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConsoleSettings:
        """The CONSOLE_* variables of `env`; a malformed value raises SettingError."""
        header = text_setting(env, CONSOLE_TRUSTED_USER_HEADER)
        if header is not None and not all(c.isalnum() or c == "-" for c in header):
            raise SettingError(
                f"{CONSOLE_TRUSTED_USER_HEADER}={header!r}: expected a header name "
                "(letters, digits and '-', e.g. X-Remote-User)"
            )
        return cls(
            users_file=text_setting(env, CONSOLE_USERS_FILE),
            exports_dir=text_setting(env, CONSOLE_EXPORTS_DIR),
            session_idle_minutes=parse_positive(
                CONSOLE_SESSION_IDLE_MINUTES,
                env.get(CONSOLE_SESSION_IDLE_MINUTES),
                DEFAULT_CONSOLE_SESSION_IDLE_MINUTES,
                24 * 60,
            ),
            session_max_hours=parse_positive(
                CONSOLE_SESSION_MAX_HOURS,
                env.get(CONSOLE_SESSION_MAX_HOURS),
                DEFAULT_CONSOLE_SESSION_MAX_HOURS,
                24 * 7,
            ),
            trusted_user_header=header.lower() if header else None,
            trusted_proxies=parse_networks(
                CONSOLE_TRUSTED_PROXIES, env.get(CONSOLE_TRUSTED_PROXIES)
            ),
        )


def parse_cosigners(value: str | None) -> tuple[tuple[str, str | None], ...]:
    """ARCHIVE_COSIGNERS as (vkey, url or None) pairs; the vkeys are parsed where they are
    used (pipelines/integrity/transparency.py), which names a malformed one."""
    pairs = []
    for part in (value or "").split(","):
        text = part.strip()
        if not text:
            continue
        vkey, _, url = text.partition("@")
        url = url.strip() or None
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingError(
                f"{ARCHIVE_COSIGNERS}: {url!r} is not an http(s) URL (entries are <vkey>[@<url>])"
            )
        pairs.append((vkey.strip(), url))
    return tuple(pairs)


@dataclass(frozen=True)
class TransparencySettings:
    """The cosigned checkpoints' settings (see ARCHIVE_LOG_NAME above)."""

    log_name: str = DEFAULT_ARCHIVE_LOG_NAME
    cosigners: tuple[tuple[str, str | None], ...] = ()
    quorum: int | None = None  # None: every cosigner
    log_public_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TransparencySettings:
        cosigners = parse_cosigners(env.get(ARCHIVE_COSIGNERS))
        quorum_text = text_setting(env, ARCHIVE_COSIGNER_QUORUM)
        quorum = None
        if quorum_text is not None:
            if not quorum_text.isdigit() or not 0 < int(quorum_text) <= len(cosigners):
                raise SettingError(
                    f"{ARCHIVE_COSIGNER_QUORUM}={quorum_text!r}: expected a whole number from 1 "
                    f"to the {len(cosigners)} witness(es) of {ARCHIVE_COSIGNERS}"
                )
            quorum = int(quorum_text)
        name = text_setting(env, ARCHIVE_LOG_NAME) or DEFAULT_ARCHIVE_LOG_NAME
        if any(c.isspace() for c in name) or "+" in name:
            raise SettingError(f"{ARCHIVE_LOG_NAME}={name!r}: no spaces and no '+' in a log name")
        return cls(
            log_name=name,
            cosigners=cosigners,
            quorum=quorum,
            log_public_key=text_setting(env, ARCHIVE_LOG_PUBLIC_KEY),
        )

    @property
    def required(self) -> int:
        """How many cosignatures verify requires."""
        return len(self.cosigners) if self.quorum is None else self.quorum


@dataclass(frozen=True)
class Settings:
    """Every setting but the RingCentral credentials, parsed. Built once per process (CLI
    command, code location) and handed to what needs it, so no part re-reads or re-parses the
    environment. The S3 keys in `s3` never show in its `repr`."""

    # ARCHIVE_URI as set; None when unset: the archive is then `DEFAULT_ARCHIVE_URI` for a
    # writer (`archive_location`), and for the audit catalog the archive it recorded.
    archive_uri: str | None = None
    audit_db: str = DEFAULT_AUDIT_DB
    object_lock_mode: str | None = None
    retention_days: int = 0
    retention_classes_path: str | None = None
    legal_hold: bool = False
    witness_uri: str | None = None
    transparency: TransparencySettings = TransparencySettings()
    policies_path: str | None = None
    iceberg_catalog_uri: str | None = None
    source_ids: tuple[str, ...] = ()
    server_url: str = DEFAULT_RC_SERVER_URL
    source_filter_param: str = DEFAULT_RC_SOURCE_FILTER_PARAM
    webhook_address: str | None = None
    archive_schedule_cron: str = DEFAULT_ARCHIVE_SCHEDULE_CRON
    webhook_subscription_cron: str = DEFAULT_WEBHOOK_SUBSCRIPTION_CRON
    network: NetworkTimeouts = NetworkTimeouts()
    s3: S3Access = S3Access()
    # Who reads or decides, as recorded in the access trail, holds and reviews (None: the
    # operating-system user).
    user: str | None = None
    console: ConsoleSettings = ConsoleSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse `env` (os.environ, or a file's values over it); a malformed value raises
        SettingError naming the variable. Empty values mean unset."""

        def text(name: str) -> str | None:
            return text_setting(env, name)

        try:
            source_ids = tuple(configured_source_ids(env.get(RC_SOURCE_IDS)))
        except ValueError as error:
            raise SettingError(f"{RC_SOURCE_IDS}: {error}") from None
        return cls(
            archive_uri=text(ARCHIVE_URI),
            audit_db=text(AUDIT_DB) or DEFAULT_AUDIT_DB,
            object_lock_mode=parse_lock_mode(env.get(ARCHIVE_OBJECT_LOCK_MODE)),
            retention_days=parse_retention_days(env.get(ARCHIVE_RETENTION_DAYS)),
            retention_classes_path=text(ARCHIVE_RETENTION_CLASSES),
            legal_hold=parse_flag(ARCHIVE_LEGAL_HOLD, env.get(ARCHIVE_LEGAL_HOLD)),
            witness_uri=text(ARCHIVE_WITNESS_URI),
            transparency=TransparencySettings.from_env(env),
            policies_path=text(ARCHIVE_POLICIES),
            iceberg_catalog_uri=text(ARCHIVE_ICEBERG_CATALOG_URI),
            source_ids=source_ids,
            server_url=text(RC_SERVER_URL) or DEFAULT_RC_SERVER_URL,
            source_filter_param=text(RC_SOURCE_FILTER_PARAM) or DEFAULT_RC_SOURCE_FILTER_PARAM,
            webhook_address=text(RC_WEBHOOK_ADDRESS),
            archive_schedule_cron=text(ARCHIVE_SCHEDULE_CRON) or DEFAULT_ARCHIVE_SCHEDULE_CRON,
            webhook_subscription_cron=(
                text(WEBHOOK_SUBSCRIPTION_CRON) or DEFAULT_WEBHOOK_SUBSCRIPTION_CRON
            ),
            network=NetworkTimeouts.from_env(env),
            s3=S3Access.from_env(env),
            user=text(RC_ARCHIVE_USER),
            console=ConsoleSettings.from_env(env),
        )

    @property
    def archive_location(self) -> str:
        """The archive to open: ARCHIVE_URI, else `DEFAULT_ARCHIVE_URI`."""
        return self.archive_uri or DEFAULT_ARCHIVE_URI

    @property
    def console_users_file(self) -> str:
        """The console's users file: CONSOLE_USERS_FILE, else beside AUDIT_DB."""
        return self.console.users_file or str(
            Path(self.audit_db).with_name(DEFAULT_CONSOLE_USERS_FILE_NAME)
        )

    @property
    def console_exports_dir(self) -> str:
        """Where the console produces exports: CONSOLE_EXPORTS_DIR, else beside AUDIT_DB."""
        return self.console.exports_dir or str(
            Path(self.audit_db).with_name(DEFAULT_CONSOLE_EXPORTS_DIR_NAME)
        )
