"""Log lines pass through the receipt log's redactor too: a secret never reaches a log handler.

Libraries below the runtime log exception texts (a tool adapter's error, a model endpoint's reply), and an
exception text may hold a secret a server echoed back. While a runtime is open, a filter on pilotgate's
loggers (and the model and HTTP clients' loggers) replaces each record's message with its redacted text.
Filters on a logger see the records that logger creates, so the filter is put on every such logger that
exists when the runtime opens, and taken off when it closes.
"""

from __future__ import annotations

import logging

from pilotgate.receipts import Redactor

WATCHED_PREFIXES = ("pilotgate", "openai", "httpx", "httpx2", "httpcore", "httpcore2", "mcp", "hvac")
"""Loggers whose records are redacted (each with its children)."""


class RedactingFilter(logging.Filter):
    """Replaces a record's message with the redactor's text of it; never drops a record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redactor.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = self.redactor.redact_text(str(record.exc_info[1]))
            if text != str(record.exc_info[1]):
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg} ({text})"
        return True


def _watched() -> list[logging.Logger]:
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in WATCHED_PREFIXES)
    ]
    for prefix in WATCHED_PREFIXES:
        if prefix not in names:
            names.append(prefix)
    return [logging.getLogger(name) for name in names]


def install(redactor: Redactor) -> RedactingFilter:
    """Put a redacting filter on every watched logger; returns it for ``uninstall``."""
    installed = RedactingFilter(redactor)
    for logger in _watched():
        logger.addFilter(installed)
    return installed


def uninstall(installed: RedactingFilter) -> None:
    """Take the filter off again."""
    for logger in _watched():
        logger.removeFilter(installed)
