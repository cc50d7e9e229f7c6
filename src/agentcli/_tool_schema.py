"""How a typed Python function is described to a model: its parameters as a pydantic model
(which validates the model's arguments) and as JSON Schema, its docstring split into the tool's
description and each parameter's."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.errors import PydanticUserError
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticUndefined

__all__ = [
    "arguments_model",
    "describe_validation",
    "is_async_callable",
    "json_schema",
    "parse_docstring",
]

_ArgsConfig = ConfigDict(extra="forbid")


class _NoFieldTitles(GenerateJsonSchema):
    """Leave out the ``title`` pydantic derives from each name: tokens the model does not need."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def arguments_model(
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


def json_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
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


def is_async_callable(fn: object) -> bool:
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


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
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


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
