"""Keep credentials out of logs and exception text.

Every secret the client holds (client secret, JWT, access and refresh tokens) is registered here;
a logging filter rewrites any record that contains one, and error messages built from server text
pass through `redact`. Defence in depth: the client never formats a secret into a message itself.
"""

from __future__ import annotations

import logging
import threading

REDACTED = "[REDACTED]"
# Loggers that see request traffic: ours, and httpx/httpcore which log URLs and connection events.
# A logger's filters only see records created on that logger itself, so children are listed.
GUARDED_LOGGERS = (
    "pipelines.ringcentral",
    "pipelines.ringcentral.retry",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
# Shorter strings are not treated as secrets: redacting "ab" everywhere would mangle logs.
_MIN_SECRET_LENGTH = 6


def register_secret(value: str | None) -> None:
    """Remember a secret so it is removed from every later log record and error message."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once, redacts it, and freezes it (args cleared)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template, still redacted
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_installed = False
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Attach the filter to the loggers that carry request traffic (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in GUARDED_LOGGERS:
            logging.getLogger(name).addFilter(RedactingFilter())
        _installed = True
