"""Tools a model can call: the ``Tool`` base, the ``@tool`` decorator for typed functions.

``run_tool_calls`` runs a batch of the model's calls; a failure becomes a result marked
``is_error`` (raise ``ToolError`` to word it yourself), never a crash of the turn. How a
function's signature and docstring become a schema is in ``_tool_schema``; running calls in
``_tool_calls``. Everything public is importable from here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

from pydantic import ValidationError
from pydantic_core import to_json

from ._tool_calls import (
    DEFAULT_MAX_RESULT_CHARS,
    ToolArgumentsError,
    ToolError,
    run_tool_calls,
    storable_result,
)
from ._tool_schema import (
    arguments_model,
    describe_validation,
    is_async_callable,
    json_schema,
    parse_docstring,
)

__all__ = [
    "DEFAULT_MAX_RESULT_CHARS",
    "FunctionTool",
    "Tool",
    "ToolArgumentsError",
    "ToolError",
    "parse_arguments",
    "run_tool_calls",
    "storable_result",
    "tool",
    "tools_by_name",
]

P = ParamSpec("P")
R = TypeVar("R")

# What OpenAI and Anthropic both accept as a function name.
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Tool(ABC):
    """Something a model can call. Subclasses implement ``run``; ``call`` is the entry point."""

    name: str
    description: str
    parameters: dict[str, Any]

    def __init__(
        self, *, name: str, description: str = "", parameters: Mapping[str, Any] | None = None
    ) -> None:
        if not _VALID_NAME.match(name):
            raise ValueError(
                f"invalid tool name {name!r}: use 1-64 letters, digits, '_' or '-' "
                "(what the OpenAI and Anthropic APIs accept)"
            )
        self.name = name
        self.description = description
        self.parameters = dict(parameters) if parameters is not None else _empty_object_schema()

    async def call(self, arguments: str | Mapping[str, Any]) -> str:
        """Run the tool with the model's arguments (JSON text or a mapping); return text.

        Raises ``ToolArgumentsError`` for arguments that do not fit, and whatever the tool
        raises; ``run_tool_calls`` turns all of these into results the model can read.
        """
        result = await self.run(parse_arguments(arguments))
        if isinstance(result, str):
            return result
        return to_json(result, fallback=str).decode()

    @abstractmethod
    async def run(self, arguments: dict[str, Any]) -> object:
        """Do the work. ``arguments`` is the decoded JSON object the model sent."""

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI Chat Completions ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def anthropic_schema(self) -> dict[str, Any]:
        """The tool as an Anthropic Messages ``tools`` entry."""
        return {"name": self.name, "description": self.description, "input_schema": self.parameters}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _empty_object_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


def parse_arguments(arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    """Decode the model's arguments into a dict, or raise ``ToolArgumentsError``."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    # Models send "" (and sometimes whitespace) for a tool without parameters.
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        raise ToolArgumentsError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ToolArgumentsError(f"arguments must be a JSON object, not {type(value).__name__}")
    return value


class FunctionTool(Tool, Generic[P, R]):
    """A Python function as a tool; build it with ``@tool``. Calling it calls the function."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        tool_name = name if name else str(getattr(fn, "__name__", ""))
        doc_text, param_docs = parse_docstring(inspect.getdoc(fn))
        self.fn = fn
        self._model, self._params = arguments_model(fn, tool_name, param_docs)
        super().__init__(
            name=tool_name,
            description=doc_text if description is None else description,
            parameters=json_schema(self._model, tool_name),
        )
        self._is_async = is_async_callable(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def run(self, arguments: dict[str, Any]) -> object:
        try:
            model = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {describe_validation(exc)}"
            ) from None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for field, param in self._params:
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                # Positional: a gap is impossible, so an omitted one gets the default filled in.
                args.append(getattr(model, field))
            elif field in model.model_fields_set:
                # Only what the model sent, so the function's own defaults apply as written.
                kwargs[param.name] = getattr(model, field)
        fn = cast(Callable[..., Any], self.fn)
        if self._is_async:
            result = await fn(*args, **kwargs)
        else:
            # In a worker thread, so a slow or blocking function does not stall the event loop.
            result = await asyncio.to_thread(fn, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(fn: Callable[P, R], /) -> FunctionTool[P, R]: ...


@overload
def tool(
    fn: None = None, /, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[P, R]], FunctionTool[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> FunctionTool[P, R] | Callable[[Callable[P, R]], FunctionTool[P, R]]:
    """Turn a typed function (sync or async) into a ``Tool``: ``@tool`` or ``@tool(name=...)``.

    The schema comes from the signature; the description from the docstring (the text before
    its sections); parameter descriptions from a Google-style ``Args:`` section, ``:param x:``
    lines, or ``Annotated[T, Field(description=...)]``. Sync functions run in a thread.
    """
    if fn is not None:
        return FunctionTool(fn, name=name, description=description)

    def decorate(f: Callable[P, R]) -> FunctionTool[P, R]:
        return FunctionTool(f, name=name, description=description)

    return decorate


def tools_by_name(tools: Iterable[Tool]) -> dict[str, Tool]:
    """Index tools by name for ``run_tool_calls``; two tools with one name is an error."""
    index: dict[str, Tool] = {}
    for item in tools:
        if item.name in index:
            raise ValueError(f"two tools are named {item.name!r}; tool names must be unique")
        index[item.name] = item
    return index
