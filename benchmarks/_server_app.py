"""What the server benchmark serves: two agents for ``agentcli serve``, and the bare app.

- ``Instant`` answers ``ok`` at once (one text delta, then done): what is left of a turn's
  time is the service's own cost. ``Held`` sends one delta, then waits until cancelled: a
  stream that stays open.
- ``python benchmarks/_server_app.py`` runs the bare FastAPI app: the same routes and JSON
  shapes (``/chat``, ``/chat/stream``, ``/v1/chat/completions``) with nothing behind them, on
  the same uvicorn settings as ``agentcli serve`` (``agentcli.server.runner``). It prints
  ``PORT <n>`` once it listens and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentcli.agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from agentcli.messages import AgentContext, AgentResponse

ANSWER = "ok"


class Instant(AgentInterface):
    name = "instant"

    async def process(self, context: AgentContext) -> AgentResponse:
        return AgentResponse(output=ANSWER)

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        yield TextDelta(ANSWER)
        yield TurnComplete(AgentResponse(output=ANSWER))


class Held(AgentInterface):
    name = "held"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        yield TextDelta(ANSWER)
        await asyncio.Event().wait()  # until cancelled
        yield TurnComplete(AgentResponse(output=ANSWER))  # pragma: no cover


# ----------------------------------------------------------------------------- the bare app


def _result(model: str | None) -> dict[str, Any]:
    """The JSON shape of agentcli's ``POST /chat`` answer."""
    return {
        "session_id": uuid.uuid4().hex,
        "turn_id": uuid.uuid4().hex,
        "model": model or "instant",
        "output": ANSWER,
        "usage": None,
        "context": {"tokens": 12, "window": 128000, "fraction": 0.0001, "level": "green"},
        "cleanup": None,
    }


def _frame(number: int, event: str, data: Any) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {number}\nevent: {event}\ndata: {body}\n\n".encode()


def _completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }


class ChatIn(BaseModel):
    """The same request model as agentcli's (validation costs the same)."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1)
    session_id: str | None = Field(None, min_length=1, max_length=128)
    model: str | None = None


class StreamIn(ChatIn):
    on_disconnect: Literal["cancel", "continue"] = "cancel"


def bare_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.post("/chat")
    async def chat(body: ChatIn) -> dict[str, Any]:
        return _result(body.model)

    @app.post("/chat/stream", response_class=StreamingResponse)
    async def chat_stream(body: StreamIn) -> StreamingResponse:
        result = _result(body.model)

        async def events() -> AsyncIterator[bytes]:
            yield _frame(1, "start", {k: result[k] for k in ("turn_id", "session_id", "model")})
            yield _frame(2, "delta", {"text": ANSWER})
            if body.model == "held":
                await asyncio.Event().wait()
            yield _frame(3, "done", result)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def completions(body: dict[str, Any]) -> dict[str, Any]:
        return _completion(str(body.get("model", "instant")))

    return app


def main() -> None:
    import uvicorn

    from agentcli.server.runner import bind, uvicorn_options

    sock = bind("127.0.0.1", 0)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(bare_app(), **uvicorn_options("WARNING"))
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
