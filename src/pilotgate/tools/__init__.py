"""Tools: the registry built from pilot.yaml, argument checks, adapters, and the never-twice executor.

registry = ToolRegistry.from_spec(spec)            # definitions for the model, checks, adapters
args = registry.validate("issue_refund", raw)      # before policy sees them (ToolArgumentsError)
executor = ToolExecutor(registry, store, log)
outcome = executor.execute(task=..., step=..., tool="issue_refund", args=args)
executor.recover(task)                             # after a crash: retry, reconcile or park
"""

from pilotgate.tools.adapters import (
    HttpAdapter,
    McpAdapter,
    OutcomeUnknown,
    PythonAdapter,
    ResolveSecret,
    ToolAdapter,
    ToolOutput,
    adapter_for,
)
from pilotgate.tools.executor import MAX_CONTENT_BYTES, IntentHook, ParkHook, ToolCallOutcome, ToolExecutor
from pilotgate.tools.keys import args_hash, idempotency_key
from pilotgate.tools.ledger import CallState, ToolCallRecord
from pilotgate.tools.registry import (
    AdapterFactory,
    RegisteredTool,
    ToolDefinition,
    ToolRegistry,
    tool_issues,
)
from pilotgate.tools.validation import DEFAULT_LIMITS, ArgumentLimits, ArgumentValidator, Problem

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_CONTENT_BYTES",
    "AdapterFactory",
    "ArgumentLimits",
    "ArgumentValidator",
    "CallState",
    "HttpAdapter",
    "IntentHook",
    "McpAdapter",
    "OutcomeUnknown",
    "ParkHook",
    "Problem",
    "PythonAdapter",
    "RegisteredTool",
    "ResolveSecret",
    "ToolAdapter",
    "ToolCallOutcome",
    "ToolCallRecord",
    "ToolDefinition",
    "ToolExecutor",
    "ToolOutput",
    "ToolRegistry",
    "adapter_for",
    "args_hash",
    "idempotency_key",
    "tool_issues",
]
