"""Tools a model can call: the ``@tool`` decorator and running a batch of tool calls.

A tool's failure is information for the model, not a crash of the turn: ``run_tool_calls``
turns bad JSON, invalid arguments, an unknown name, a timeout or an exception into a ``tool``
message that starts with ``error:``, so the model can read it and try again.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Generic, ParamSpec, TypeVar, cast, get_args, get_origin, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.errors import PydanticUserError
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticUndefined, to_json

from .errors import InvalidInputError
from .messages import Message, ToolCall, make_storable

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

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_RESULT_CHARS = 100_000
"""Results longer than this are cut (a model's window is the scarce resource, not disk)."""

# What OpenAI and Anthropic both accept as a function name.
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolError(Exception):
    """Raise from a tool to give the model a plain message (``error: <message>``)."""


class ToolArgumentsError(InvalidInputError):
    """The arguments the model sent are not valid JSON, not an object, or do not fit the schema."""


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
        doc_text, param_docs = _parse_docstring(inspect.getdoc(fn))
        self.fn = fn
        self._model, self._params = _arguments_model(fn, tool_name, param_docs)
        super().__init__(
            name=tool_name,
            description=doc_text if description is None else description,
            parameters=_json_schema(self._model, tool_name),
        )
        self._is_async = _is_async_callable(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def run(self, arguments: dict[str, Any]) -> object:
        try:
            model = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {_describe_validation(exc)}"
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


async def run_tool_calls(
    tools: Mapping[str, Tool],
    calls: Sequence[ToolCall],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - per call, not for the whole batch
    max_result_chars: int | None = DEFAULT_MAX_RESULT_CHARS,
) -> list[Message]:
    """Run ``calls`` concurrently; return one ``tool`` message per call, in the order of ``calls``.

    Every failure becomes a result starting with ``error:``; only cancellation propagates (and
    cancels the other calls). ``timeout`` is per call, in seconds (a sync tool's thread cannot
    be stopped: it finishes in the background and its result is dropped). Results are made
    storable (NUL and lone surrogates become U+FFFD) and cut at ``max_result_chars``.
    """
    if len(calls) == 1:
        return [await _run_one(tools, calls[0], timeout, max_result_chars)]
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_run_one(tools, call, timeout, max_result_chars)) for call in calls
        ]
    return [task.result() for task in tasks]


def storable_result(text: str, max_chars: int | None = DEFAULT_MAX_RESULT_CHARS) -> str:
    """Make ``text`` storable (U+FFFD for NUL and lone surrogates); cut it at ``max_chars``."""
    text = make_storable(text)
    if max_chars is not None and len(text) > max_chars:
        cut = len(text) - max_chars
        text = f"{text[:max_chars]}\n[truncated: {cut} more characters not shown]"
    return text


async def _run_one(
    tools: Mapping[str, Tool], call: ToolCall, seconds: float | None, max_chars: int | None
) -> Message:
    started = time.perf_counter()
    selected = tools.get(call.name)
    if selected is None:
        names = ", ".join(sorted(tools)) or "none"
        text, outcome = f"error: unknown tool {call.name!r}; available tools: {names}", "unknown"
    else:
        text, outcome = await _call(selected, call, seconds)
    logger.info(
        "tool call finished",
        extra={
            "tool": call.name,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "result_chars": len(text),
        },
    )
    return Message(
        role="tool",
        tool_call_id=call.id,
        name=call.name,
        content=storable_result(text, max_chars),
    )


async def _call(selected: Tool, call: ToolCall, seconds: float | None) -> tuple[str, str]:
    """Run one tool; return (result text, outcome label for the log)."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await selected.call(call.arguments), "ok"
    except (ToolArgumentsError, ToolError) as exc:
        return f"error: {exc}", "error"
    except TimeoutError as exc:
        if deadline.expired():
            return f"error: tool {call.name!r} did not finish within {seconds:g} s", "timeout"
        return _describe_exception(exc), "error"
    except asyncio.CancelledError:
        task = asyncio.current_task()
        # Our task is being cancelled (the turn was interrupted): propagate. Otherwise the tool
        # raised CancelledError on its own account, which is just another failure.
        if task is None or task.cancelling():
            raise
        return f"error: tool {call.name!r} was cancelled", "error"
    except Exception as exc:
        logger.debug("tool %r raised", call.name, exc_info=True)
        return _describe_exception(exc), "error"


def _describe_exception(exc: BaseException) -> str:
    detail = str(exc)
    return f"error: {type(exc).__name__}: {detail}" if detail else f"error: {type(exc).__name__}"


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- schema building

_ArgsConfig = ConfigDict(extra="forbid")


class _NoFieldTitles(GenerateJsonSchema):
    """Leave out the ``title`` pydantic derives from each name: tokens the model does not need."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _arguments_model(
    fn: Callable[..., Any], name: str, docs: Mapping[str, str]
) -> tuple[type[BaseModel], list[tuple[str, inspect.Parameter]]]:
    """A pydantic model of ``fn``'s parameters, and (field, parameter) pairs to call it with."""
    where = f"tool {name!r}"
    try:
        signature = inspect.signature(fn, eval_str=True)
    except (NameError, SyntaxError, TypeError) as exc:
        raise TypeError(f"{where}: cannot read the signature's type annotations: {exc}") from exc
    fields: dict[str, Any] = {}
    params: list[tuple[str, inspect.Parameter]] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            star = "*" if param.kind is inspect.Parameter.VAR_POSITIONAL else "**"
            raise TypeError(
                f"{where}: {star}{param.name} cannot be described to a model; "
                "declare each argument as a typed parameter"
            )
        if param.annotation is inspect.Parameter.empty:
            raise TypeError(
                f"{where}: parameter {param.name!r} has no type annotation; annotate it so the "
                "model knows what to send"
            )
        if isinstance(param.default, FieldInfo):
            raise TypeError(
                f"{where}: parameter {param.name!r} uses Field(...) as its default; write "
                "Annotated[T, Field(...)] = default instead"
            )
        default = PydanticUndefined if param.default is inspect.Parameter.empty else param.default
        # Fields get neutral names and the parameter name as alias, so a parameter may be
        # called ``json``, ``schema`` or ``_x`` without clashing with BaseModel's own names.
        info = Field(default=default, alias=param.name)
        if param.name in docs and not _has_description(param.annotation):
            # Set only when given: an explicit None would hide an Annotated description.
            info = Field(default=default, alias=param.name, description=docs[param.name])
        field = f"p{index}"
        fields[field] = (param.annotation, info)
        params.append((field, param))
    try:
        model = create_model(f"{name}_arguments", __config__=_ArgsConfig, **fields)
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise TypeError(f"{where}: a parameter's type cannot be validated: {exc}") from exc
    return model, params


def _json_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    try:
        schema = model.model_json_schema(schema_generator=_NoFieldTitles)
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise TypeError(
            f"tool {name!r}: its parameters cannot be written as JSON Schema: {exc}"
        ) from exc
    schema.pop("title", None)
    return schema


def _has_description(annotation: Any) -> bool:
    if get_origin(annotation) is not Annotated:
        return False
    return any(
        isinstance(meta, FieldInfo) and meta.description for meta in get_args(annotation)[1:]
    )


def _is_async_callable(fn: object) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return call is not None and inspect.iscoroutinefunction(call)


# ----------------------------------------------------------------------------- docstrings

_SECTION = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|returns?|yields?|"
    r"raises|examples?|notes?|attributes|see also|warnings?|todo|references)\s*:\s*$",
    re.IGNORECASE,
)
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_ARG = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its description (text before any section) and per-parameter docs."""
    if not doc:
        return "", {}
    description: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None  # None: still in the description
    current: str | None = None  # the parameter whose text continues on the next lines
    entry_indent: int | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(stripped)
        if header and indent == 0:
            section, current, entry_indent = header.group(1).lower(), None, None
            continue
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            section, current = ":param", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            entry_indent = indent
            continue
        if stripped.startswith(":") and indent == 0:
            section, current = ":other", None
            continue
        if section is None:
            description.append(line)
            continue
        if not stripped:
            continue
        if section in _ARG_SECTIONS:
            if entry_indent is None:
                entry_indent = indent
            arg = _GOOGLE_ARG.match(stripped)
            if indent <= entry_indent and arg:
                current = arg.group(1)
                params[current] = arg.group(2).strip()
                continue
        if current is not None and entry_indent is not None and indent > entry_indent:
            params[current] = f"{params[current]} {stripped}".strip()
        else:
            current = None
    return "\n".join(description).strip(), params
