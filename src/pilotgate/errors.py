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
    ├── ToolError                  a tool call cannot be made as asked (exit 2)
    │   ├── UnknownToolError       a model or caller named a tool pilot.yaml does not declare
    │   ├── ToolArgumentsError     arguments fail the schema or size limits; names the path, not the value
    │   └── ToolAdapterError       an adapter cannot be loaded (import, unreadable mcp: target, no SDK)
    ├── ApprovalError              an approval cannot be decided or used as asked (exit 1)
    │   ├── ApprovalNotFoundError  no approval with that id in this pilot (exit 2)
    │   └── ApprovalRefusedError   not an approver, the requester, decided, expired, or bound elsewhere
    ├── ModelError                 a model could not answer; names the model, never its key (exit 2)
    │   ├── ModelUnavailableError  down, timed out, an HTTP error or a reply that cannot be used
    │   │   ├── ModelTimeoutError      no reply within the model's timeout (retried)
    │   │   ├── ModelConnectionError   the endpoint cannot be reached (retried)
    │   │   ├── ModelHTTPError         an HTTP error status (429 and 5xx retried, other 4xx not)
    │   │   └── ModelReplyError        malformed JSON, no choices, malformed tool arguments
    │   └── AllModelsFailed        every routed model failed; ``attempts`` says how each one did
    └── CheckFailed                a check ran and failed; ``failures`` names each place (exit 1)
        ├── VerificationError      the receipt chain or a checkpoint does not verify
        ├── PolicyTestFailed       a declared policy test got another decision
        └── GateBlocked            the release gate refused a release; each failing rule named
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


class ModelError(PilotgateError):
    """A model could not answer. Messages name the model and the cause; they never hold an API key."""

    def __init__(self, message: str, *, model: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.model = model


class ModelUnavailableError(ModelError):
    """One call to one model failed; ``retryable`` says whether the same call may succeed if tried again."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        model: str,
        cause: str,
        status: int | None = None,
        retryable: bool | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, model=model, hint=hint)
        self.cause = cause
        self.status = status
        if retryable is not None:
            self.retryable = retryable


class ModelTimeoutError(ModelUnavailableError):
    """The model did not answer within its timeout; worth retrying."""

    retryable = True


class ModelConnectionError(ModelUnavailableError):
    """The model's endpoint cannot be reached (refused, reset, DNS); worth retrying."""

    retryable = True


class ModelHTTPError(ModelUnavailableError):
    """The endpoint answered with an HTTP error status; 429 and 5xx are retried, other 4xx are not."""


class ModelReplyError(ModelUnavailableError):
    """The reply cannot be used: not JSON, not a chat completion, or tool arguments that do not parse."""


class AllModelsFailed(ModelError):
    """Every model in the route failed; ``attempts`` lists each try, so the degraded mode can take over."""

    def __init__(self, message: str, *, attempts: list[object], hint: str | None = None) -> None:
        super().__init__(message, model="", hint=hint)
        self.attempts = list(attempts)


class ToolError(PilotgateError):
    """A tool call cannot be made as asked; ``tool`` names the tool."""

    def __init__(self, message: str, *, tool: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tool = tool


class UnknownToolError(ToolError):
    """A model or a caller asked for a tool that pilot.yaml does not declare."""


class ToolArgumentsError(ToolError):
    """A call's arguments fail the tool's JSON Schema or the size limits; ``problems`` names each path.

    Neither the message nor ``problems`` holds a value from the arguments (they may be huge or hostile).
    """

    def __init__(
        self, message: str, *, tool: str, problems: list[object] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, tool=tool, hint=hint)
        self.problems = list(problems or [])


class ToolAdapterError(ToolError):
    """A tool's adapter cannot be loaded: a module that does not import, an unreadable ``mcp:`` target."""


class ApprovalError(PilotgateError):
    """An approval cannot be decided or used as asked; ``approval`` is the id."""

    exit_code = 1

    def __init__(self, message: str, *, approval: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.approval = approval


class ApprovalNotFoundError(ApprovalError):
    """No approval request with that id exists in this pilot (unknown, mistyped or forged)."""

    exit_code = 2


class ApprovalRefusedError(ApprovalError):
    """The approval store said no; ``code`` says why: ``not_an_approver``, ``self_approval``, ``decided``,
    ``expired``, ``binding`` (another tool, task or arguments), ``not_approved`` or ``consumed``."""

    def __init__(self, message: str, *, approval: str, code: str, hint: str | None = None) -> None:
        super().__init__(message, approval=approval, hint=hint)
        self.code = code


class GateBlocked(CheckFailed):
    """The release gate refused a release; ``failures`` holds each failing rule's result."""
