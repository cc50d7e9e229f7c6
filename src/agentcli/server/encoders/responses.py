"""The Responses API (``POST /v1/responses``) from a turn's events.

Streamed, each event has its ``type`` as the SSE ``event:`` and a ``sequence_number`` from 0:

    response.created, response.in_progress
    a text segment: response.output_item.added (message), response.content_part.added,
        response.output_text.delta ..., response.output_text.done, response.content_part.done,
        response.output_item.done
    a tool the agent ran: response.output_item.added (mcp_call), response.mcp_call_arguments.done,
        response.mcp_call.completed or .failed, response.output_item.done
    the end: response.completed (with usage), response.incomplete (the answer was cut
        short), or response.failed (with the error's code and message)

Not streamed, the body is the response object the last event carries.

Tool activity: the agent's tools run on the server, as OpenAI's hosted MCP tools do, so each
is an ``mcp_call`` item (``server_label: "agentcli"``) with its arguments, output and error:
clients show such items and never run them (a ``function_call`` item would ask them to).
Text before and after a tool call are separate message items, as OpenAI's are.

Response ids carry their session: ``resp_`` + urlsafe base64 of the session id + ``_`` + the
turn id, so ``previous_response_id`` resolves on any replica with no lookup table.
"""

from __future__ import annotations

import base64
import copy
import re
import time
from typing import Any

from ...agent import TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from ...errors import InvalidInputError
from ...stores.base import validate_session_id
from ...usage import Usage
from ..turns import Failed, Started, TurnEvent

__all__ = ["ResponsesEncoder", "response_id", "session_of", "usage_body"]

SERVER_LABEL = "agentcli"
_TURN_ID = re.compile(r"[0-9a-f]{32}")
_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


def response_id(session_id: str, turn_id: str) -> str:
    encoded = base64.urlsafe_b64encode(session_id.encode()).rstrip(b"=").decode()
    return f"resp_{encoded}_{turn_id}"


def session_of(value: str) -> str | None:
    """The session a response id names, or ``None`` if it is not one of ours."""
    if not value.startswith("resp_"):
        return None
    encoded, _, turn_id = value[5:].rpartition("_")  # the turn id is hex: no "_" in it
    if not _BASE64.fullmatch(encoded) or not _TURN_ID.fullmatch(turn_id):
        return None
    try:
        session_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        validate_session_id(session_id)
    except (ValueError, InvalidInputError):  # binascii.Error and UnicodeDecodeError included
        return None
    # Only the canonical spelling: one response, one id.
    return session_id if response_id(session_id, turn_id) == value else None


def usage_body(usage: Usage | None) -> dict[str, Any] | None:
    """The Responses ``usage``; ``None`` when the agent reported none."""
    if usage is None or not usage.reported:
        return None
    given = usage.input_tokens or 0
    made = usage.output_tokens or 0
    return {
        "input_tokens": given,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": made,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.tokens if usage.tokens is not None else given + made,
    }


class ResponsesEncoder:
    """One response, built event by event; ``feed`` returns the stream events to send."""

    def __init__(self, *, turn_id: str, session_id: str, model: str, **echo: Any) -> None:
        self.id = response_id(session_id, turn_id)
        self.turn_id = turn_id
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {"status": "in_progress", "usage": None, "error": None}
        self._base: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": int(time.time()),
            "model": model,
            "instructions": None,
            "previous_response_id": None,
            "store": True,
            "background": False,
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "temperature": None,
            "top_p": None,
            "metadata": {},
            "text": {"format": {"type": "text"}},
            "truncation": "auto",  # what our context cleanup does: drop the oldest turns
            "incomplete_details": None,
            **echo,
        }
        self._message: int | None = None  # index of the open message item
        self._calls: dict[str, int] = {}  # tool call id -> index of its item
        self._wrote = False

    def response(self) -> dict[str, Any]:
        return {**self._base, **self.state, "output": copy.deepcopy(self.output)}

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def _item_event(self, kind: str, index: int) -> dict[str, Any]:
        return self._event(kind, output_index=index, item=copy.deepcopy(self.output[index]))

    def feed(self, event: TurnEvent) -> list[dict[str, Any]]:
        if isinstance(event, Started):
            return [
                self._event("response.created", response=self.response()),
                self._event("response.in_progress", response=self.response()),
            ]
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ToolCallEvent):
            return [*self._close_message(), *self._tool_call(event)]
        if isinstance(event, ToolResultEvent):
            return [*self._close_message(), *self._tool_result(event)]
        if isinstance(event, TurnComplete):
            return self._complete(event)
        assert isinstance(event, Failed)
        return self._fail(event)

    # ------------------------------------------------------------------ text

    def _part_fields(self, index: int) -> dict[str, Any]:
        return {"item_id": self.output[index]["id"], "output_index": index, "content_index": 0}

    def _text(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        events = self._open_message() if self._message is None else []
        assert self._message is not None
        index = self._message
        part = self.output[index]["content"][0]
        part["text"] += text
        self._wrote = True
        fields = self._part_fields(index)
        events.append(self._event("response.output_text.delta", **fields, delta=text, logprobs=[]))
        return events

    def _open_message(self) -> list[dict[str, Any]]:
        index = len(self.output)
        item_id = f"msg_{self.turn_id}_{index}"
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
        self.output.append({**item, "content": []})
        self._message = index
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        added = self._item_event("response.output_item.added", index)
        self.output[index]["content"].append(part)
        fields = self._part_fields(index)
        return [added, self._event("response.content_part.added", **fields, part=dict(part))]

    def _close_message(self, status: str = "completed") -> list[dict[str, Any]]:
        index, self._message = self._message, None
        if index is None:
            return []
        item = self.output[index]
        item["status"] = status
        part = item["content"][0]
        fields = self._part_fields(index)
        return [
            self._event("response.output_text.done", **fields, text=part["text"], logprobs=[]),
            self._event("response.content_part.done", **fields, part=copy.deepcopy(part)),
            self._item_event("response.output_item.done", index),
        ]

    # ------------------------------------------------------------------ tools

    def _add_call(self, call_id: str, name: str, arguments: str) -> int:
        index = len(self.output)
        self.output.append(
            {
                "id": f"mcp_{call_id}",
                "type": "mcp_call",
                "server_label": SERVER_LABEL,
                "name": name,
                "arguments": arguments,
                "output": None,
                "error": None,
                "status": "in_progress",
            }
        )
        self._calls[call_id] = index
        return index

    def _tool_call(self, event: ToolCallEvent) -> list[dict[str, Any]]:
        call = event.call
        index = self._add_call(call.id, call.name, call.arguments)
        item_id = self.output[index]["id"]
        return [
            self._item_event("response.output_item.added", index),
            self._event(
                "response.mcp_call_arguments.done",
                item_id=item_id,
                output_index=index,
                arguments=call.arguments,
            ),
        ]

    def _tool_result(self, event: ToolResultEvent) -> list[dict[str, Any]]:
        message = event.message
        call_id = message.tool_call_id or f"{self.turn_id}_{len(self.output)}"
        events: list[dict[str, Any]] = []
        index = self._calls.pop(call_id, None)
        if index is None:  # a result without its call: still say what ran
            index = self._add_call(call_id, message.name or "tool", "{}")
            events.append(self._item_event("response.output_item.added", index))
        item = self.output[index]
        item["output"] = message.content
        if message.is_error:
            item["status"] = "failed"
            item["error"] = {"type": "mcp_tool_execution_error", "content": message.content}
        else:
            item["status"] = "completed"
        kind = "response.mcp_call.failed" if message.is_error else "response.mcp_call.completed"
        events.append(self._event(kind, item_id=item["id"], output_index=index))
        events.append(self._item_event("response.output_item.done", index))
        return events

    # ------------------------------------------------------------------ the end

    def _complete(self, event: TurnComplete) -> list[dict[str, Any]]:
        response = event.response
        events: list[dict[str, Any]] = []
        if not self._wrote and response.output:  # an agent that streamed no text
            events += self._text(response.output)
        events += self._close_message()
        self.state["usage"] = usage_body(response.usage)
        if response.metadata.get("truncated"):
            self.state["status"] = "incomplete"
            self._base["incomplete_details"] = {"reason": "max_output_tokens"}
            events.append(self._event("response.incomplete", response=self.response()))
        else:
            self.state["status"] = "completed"
            self.state["completed_at"] = int(time.time())
            events.append(self._event("response.completed", response=self.response()))
        return events

    def _fail(self, event: Failed) -> list[dict[str, Any]]:
        events = self._close_message("incomplete")
        for index in self._calls.values():  # tools still running when the turn stopped
            self.output[index]["status"] = "incomplete"
        self._calls.clear()
        error = event.error
        self.state["status"] = "failed"
        self.state["error"] = {"code": error.code, "message": error.message}
        events.append(self._event("response.failed", response=self.response()))
        return events
