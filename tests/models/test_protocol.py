"""The protocol's tool-calling values: defaults keep plain calls as they were; calls read as receipts do."""

from __future__ import annotations

from models_helpers import LOOKUP_TOOL, REFUND_TOOL

from pilotgate.models import (
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolDefinition,
    ToolResult,
    calls_in,
    results_in,
    tool_citation,
)


def test_a_plain_request_and_response_need_no_tool_fields() -> None:
    request = ModelRequest("q")
    assert (request.tools, request.turns) == ((), ())
    response = ModelResponse("a", (), 1, 1, "m", "p", 0.0)
    assert (response.tool_calls, response.finish_reason, response.unknown_tools) == ((), "stop", ())
    assert not response.usage_estimated and not response.abstained


def test_a_request_knows_which_tools_it_offers() -> None:
    request = ModelRequest("q", tools=[REFUND_TOOL, LOOKUP_TOOL])
    assert request.offers("issue_refund") and not request.offers("delete_everything")


def test_a_tool_definition_defaults_to_an_empty_object_schema() -> None:
    assert ToolDefinition("ping").parameters == {"type": "object", "properties": {}}


def test_transcripts_split_into_calls_and_results() -> None:
    call = ToolCall("call_1", "lookup_order", {"order_id": "123456"})
    result = ToolResult("call_1", "lookup_order", "delivered")
    assert calls_in([call, result]) == [call] and results_in([call, result]) == [result]
    assert call.as_dict() == {"id": "call_1", "name": "lookup_order", "arguments": {"order_id": "123456"}}
    assert tool_citation("call_1") == "tool:call_1"
