"""Every error pilotgate raises on purpose, in one tree.

Each error carries the context a user needs (which file and line, which field, which receipt, which
setting) and a ``hint`` saying what to do about it. The CLI maps them to one message and an exit code:
``2`` for usage, configuration and environment problems, ``1`` for a check that ran and failed.

    PilotgateError
    ├── UsageError                 a command was called wrongly (exit 2)
    ├── ConfigError                pilot.yaml is broken; carries every ConfigIssue at once (exit 2)
    │   └── PolicyError            a policy rule does not compile or names an unknown variable
    ├── SourceError                a declared source cannot be read (exit 2)
    ├── StoreError                 the database cannot be used (exit 2)
    │   ├── StoreUnavailableError  cannot open, locked, unreachable
    │   └── SchemaTooNewError      written by a newer pilotgate
    ├── SigningKeyError            the pilot's signing key is missing or unusable (exit 2)
    ├── WitnessError               a witness location cannot be read or written (exit 2)
    ├── ReceiptNotFoundError       a receipt or checkpoint asked for does not exist (exit 2)
    ├── TaskError                  a task cannot run (unknown user, ...) (exit 2)
    ├── SecretError                a secret reference cannot be resolved; never shows the value (exit 2)
    └── CheckFailed                a check ran and failed; ``failures`` names each place (exit 1)
        ├── VerificationError      the receipt chain or a checkpoint does not verify
        └── PolicyTestFailed       a declared policy test got another decision
"""

from __future__ import annotations

from dataclasses import dataclass


class PilotgateError(Exception):
    """Base of every error pilotgate raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PilotgateError):
    """A command was called with arguments that cannot work."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one config file, at one place."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(PilotgateError):
    """A config file (pilot.yaml, an eval pack) is broken; every issue in it is reported at once."""

    def __init__(self, issues: list[ConfigIssue], *, hint: str | None = None) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        head = (
            f"{count} problem{'s' if count != 1 else ''} in {self.issues[0].file}" if issues else "bad config"
        )
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues), hint=hint)


class SourceError(PilotgateError):
    """A declared source (folder, file, database) cannot be read."""


class StoreError(PilotgateError):
    """The store cannot be used."""


class StoreUnavailableError(StoreError):
    """The database cannot be opened: missing, unreadable, locked or unreachable."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer pilotgate; this one refuses to touch it."""


class SigningKeyError(PilotgateError):
    """The pilot's Ed25519 signing key is missing, unreadable or not an Ed25519 key."""


class WitnessError(PilotgateError):
    """A witness location (a file or an HTTP endpoint) cannot be read or written."""


class ReceiptNotFoundError(PilotgateError):
    """A receipt, checkpoint or task asked for by id or sequence number does not exist."""


class TaskError(PilotgateError):
    """A task cannot be started or run as asked (an unknown user, an empty question)."""


class CheckFailed(PilotgateError):
    """A check ran and found problems (exit 1, unlike the exit 2 of errors that stop a check running)."""

    exit_code = 1

    def __init__(
        self, message: str, *, failures: list[object] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.failures = list(failures or [])
        """Each place the check failed, first first."""


class VerificationError(CheckFailed):
    """The receipt chain or a checkpoint does not verify; ``failures`` names each place."""


class PolicyError(ConfigError):
    """A policy rule does not compile, or uses a variable other than user, tool, args, task, budget."""


class SecretError(PilotgateError):
    """A secret reference cannot be resolved; ``reference`` names it, the message never holds the value."""

    def __init__(self, message: str, *, reference: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reference = reference


class PolicyTestFailed(CheckFailed):
    """One or more of pilot.yaml's policy tests got a decision other than the expected one."""
